"""Which points to simulate next: where the committee disagrees most, a batch at a time, spread
out so that one batch does not pile up in a single region of disagreement.

Candidates are a scrambled Sobol set in the parameter box. The batch is chosen greedily: the
candidate of largest disagreement, then each candidate's score is multiplied by
1 - exp(-d^2 / 2 r^2) (d its distance to the chosen point in the unit box, r the typical
spacing of the design after the batch, ``spread`` x (n + batch)^(-1/dim)) - local
penalisation, as in batch Bayesian optimisation - and so on.
"""

from __future__ import annotations

import numpy as np

from physgen.emulate.designs import sobol, to_bounds

__all__ = ["select_batch", "spread_radius"]


def spread_radius(n_points: int, dim: int, spread: float) -> float:
    return spread * float(n_points) ** (-1.0 / dim)


def select_batch(
    disagreement_of,
    bounds: np.ndarray,
    n_known: int,
    batch: int,
    seed: int,
    candidates: int = 4096,
    spread: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """(points (batch, d), their disagreement) chosen from Sobol candidates;
    ``disagreement_of(points) -> (n,)`` is the committee's score."""
    dim = len(bounds)
    unit = sobol(candidates, dim, seed)
    points = to_bounds(unit, bounds)
    score = np.asarray(disagreement_of(points), dtype=float)
    radius = spread_radius(n_known + batch, dim, spread)
    penalised = score.copy()
    chosen = []
    for _ in range(min(batch, candidates)):
        best = int(np.argmax(penalised))
        chosen.append(best)
        distance2 = np.square(unit - unit[best]).sum(1)
        penalised *= 1 - np.exp(-distance2 / (2 * radius**2))
        penalised[best] = -np.inf
    chosen = np.array(chosen)
    return points[chosen], score[chosen]
