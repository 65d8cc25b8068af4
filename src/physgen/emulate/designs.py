"""Space-filling and grid designs of parameter points within bounds (scipy.stats.qmc)."""

from __future__ import annotations

import numpy as np
from scipy.stats import qmc

from physgen.core.errors import PhysgenInputError

__all__ = ["DESIGNS", "design", "grid_size", "sobol", "to_bounds", "to_unit"]

DESIGNS = ("lhs", "sobol", "grid", "random")


def to_bounds(unit: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return bounds[:, 0] + unit * (bounds[:, 1] - bounds[:, 0])


def to_unit(points: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return (points - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])


def sobol(n: int, dim: int, seed: int) -> np.ndarray:
    """The first ``n`` points of a scrambled Sobol sequence in the unit box (drawn as the next
    power of two, which keeps scipy's balance properties and its warning away)."""
    return qmc.Sobol(d=dim, scramble=True, seed=seed).random_base2(max(n - 1, 1).bit_length())[:n]


def grid_size(budget: int, dim: int) -> int:
    """Points per axis of the largest full grid within ``budget`` points."""
    per_axis = int(np.floor(budget ** (1 / dim) + 1e-9))
    return per_axis


def design(kind: str, n: int, bounds: np.ndarray, seed: int) -> np.ndarray:
    """``n`` points of a design within ``bounds`` (d, 2); a grid has the largest full grid of
    at most ``n`` points (axes from bound to bound)."""
    bounds = np.asarray(bounds, dtype=float)
    dim = len(bounds)
    if kind == "lhs":
        unit = qmc.LatinHypercube(d=dim, seed=seed).random(n)
    elif kind == "sobol":
        unit = sobol(n, dim, seed)
    elif kind == "random":
        unit = np.random.default_rng(seed).random((n, dim))
    elif kind == "grid":
        per_axis = grid_size(n, dim)
        if per_axis < 2:
            raise PhysgenInputError(
                f"a grid in {dim} dimensions needs at least {2**dim} points, not {n}"
            )
        axis = np.linspace(0.0, 1.0, per_axis)
        unit = np.stack(np.meshgrid(*[axis] * dim, indexing="ij"), -1).reshape(-1, dim)
    else:
        raise PhysgenInputError(f"design '{kind}': use one of {', '.join(DESIGNS)}")
    return to_bounds(unit, bounds)
