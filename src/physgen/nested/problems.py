"""Problems with a known evidence for nested sampling, and user problems from a Python file.

A problem is a prior (a map from the unit cube, ``prior_transform``) and a vectorised
log-likelihood of (n, dim) parameters. Exact log-evidences:
- ``gaussian``: L = N(x; 0, sigma^2 I) under the prior U[-a, a]^d, log Z = d (log erf(a /
  (sigma sqrt 2)) - log 2a);
- ``shells``: two Gaussian shells of radius 2 and width 0.1 centred at +-3.5 on the first axis,
  prior U[-6, 6]^d (Feroz, Hobson, Bridges, arXiv:0809.3437, whose table gives log Z = -1.75,
  -5.67, -14.59, -36.09, -60.13 for d = 2, 5, 10, 20, 30); other d by the 1-D radial quadrature
  used here for every d (it reproduces that table);
- ``rosenbrock``: L = exp(-(1 - x)^2 - 100 (y - x^2)^2) on U[-5, 5]^2, Z by adaptive quadrature;
- ``lsbi``: a linear-Gaussian mixture of ``lsbi`` (the test bed of fusions): data D of d = dim
  values, D | theta ~ sum_a w_a N(m_a + M_a theta, C) with k = 3 components of equal weight,
  M_a and m_a drawn once (seed 0: M_a ~ N(0, 1), m_a ~ N(0, 3^2)), C = 0.1^2 I, the prior
  theta ~ N(0, I) shared by the components, D one draw of the model; the evidence is lsbi's
  closed form (a Gaussian mixture in D). Needs the ``nested`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import integrate, special

from physgen.core.errors import PhysgenInputError
from physgen.core.user_file import load_user_module

__all__ = ["Problem", "PROBLEMS", "get_problem", "problem_from_file"]


@dataclass(frozen=True)
class Problem:
    name: str
    dim: int
    lower: np.ndarray
    upper: np.ndarray
    log_likelihood: Callable[[np.ndarray], np.ndarray]
    log_z_exact: float | None = None
    exact_method: str = ""
    names: tuple[str, ...] = ()
    transform: Callable[[np.ndarray], np.ndarray] | None = None  # None: uniform in the box

    def prior_transform(self, u: np.ndarray) -> np.ndarray:
        if self.transform is not None:
            return self.transform(u)
        return self.lower + u * (self.upper - self.lower)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self.names or tuple(f"x{i}" for i in range(self.dim))


def _box(dim: int, half_width: float) -> tuple[np.ndarray, np.ndarray]:
    return np.full(dim, -half_width), np.full(dim, half_width)


def gaussian(dim: int, sigma: float = 1.0, half_width: float = 5.0) -> Problem:
    def log_l(x):
        return -0.5 * np.sum(x**2, 1) / sigma**2 - dim * math.log(sigma * math.sqrt(2 * math.pi))

    inside = math.erf(half_width / (sigma * math.sqrt(2)))
    log_z = dim * (math.log(inside) - math.log(2 * half_width))
    return Problem("gaussian", dim, *_box(dim, half_width), log_l, log_z, "closed form")


SHELL_RADIUS, SHELL_WIDTH, SHELL_CENTRE, SHELL_PRIOR = 2.0, 0.1, 3.5, 6.0


def _shell_log_l(x: np.ndarray) -> np.ndarray:
    norm = -0.5 * math.log(2 * math.pi * SHELL_WIDTH**2)
    terms = []
    for sign in (1.0, -1.0):
        centred = x.copy()
        centred[:, 0] -= sign * SHELL_CENTRE
        radius = np.sqrt(np.sum(centred**2, 1))
        terms.append(norm - 0.5 * ((radius - SHELL_RADIUS) / SHELL_WIDTH) ** 2)
    return np.logaddexp(*terms)


def shells_log_z(dim: int) -> float:
    """log Z of the two shells: each shell integrates to the surface of the d-sphere times the
    radial Gaussian integral (the shells lie well inside the prior box and apart), divided by
    the prior volume 12^d."""
    log_surface = math.log(2) + (dim / 2) * math.log(math.pi) - special.gammaln(dim / 2)

    def radial(r):
        return r ** (dim - 1) * math.exp(-0.5 * ((r - SHELL_RADIUS) / SHELL_WIDTH) ** 2)

    low, high = SHELL_RADIUS - 12 * SHELL_WIDTH, SHELL_RADIUS + 12 * SHELL_WIDTH
    integral, _ = integrate.quad(radial, low, high, epsabs=0, epsrel=1e-12, limit=200)
    one_shell = log_surface + math.log(integral) - 0.5 * math.log(2 * math.pi * SHELL_WIDTH**2)
    return math.log(2) + one_shell - dim * math.log(2 * SHELL_PRIOR)


def shells(dim: int) -> Problem:
    return Problem(
        "shells",
        dim,
        *_box(dim, SHELL_PRIOR),
        _shell_log_l,
        shells_log_z(dim),
        "radial quadrature (reproduces arXiv:0809.3437)",
    )


def _rosenbrock_log_l(x: np.ndarray) -> np.ndarray:
    return -((1 - x[:, 0]) ** 2) - 100 * (x[:, 1] - x[:, 0] ** 2) ** 2


def rosenbrock_log_z() -> float:
    def inner(x):  # the y-integral of exp(-(1-x)^2 - 100 (y - x^2)^2) over [-5, 5]
        scale = math.sqrt(100)
        gauss = 0.5 * math.sqrt(math.pi) / scale
        erf_part = math.erf(scale * (5 - x * x)) - math.erf(scale * (-5 - x * x))
        return math.exp(-((1 - x) ** 2)) * gauss * erf_part

    value, _ = integrate.quad(inner, -5, 5, epsabs=0, epsrel=1e-12, limit=200)
    return math.log(value) - math.log(100.0)


def rosenbrock(dim: int = 2) -> Problem:
    if dim != 2:
        raise PhysgenInputError("the rosenbrock problem is 2-D: use --dim 2")
    return Problem(
        "rosenbrock",
        2,
        *_box(2, 5.0),
        _rosenbrock_log_l,
        rosenbrock_log_z(),
        "quadrature (the y-integral in closed form)",
    )


LSBI_COMPONENTS, LSBI_NOISE, LSBI_SEED = 3, 0.1, 0


def lsbi_model(dim: int):
    """The lsbi MixtureModel of the ``lsbi`` problem and its observation D."""
    try:
        from lsbi.model import MixtureModel
    except ImportError:
        raise PhysgenInputError(
            "the lsbi problem needs the lsbi package: pip install 'physgen[nested]'"
        ) from None
    rng = np.random.default_rng(LSBI_SEED)
    k = LSBI_COMPONENTS
    model_matrices = rng.normal(size=(k, dim, dim))
    data_means = 3.0 * rng.normal(size=(k, dim))
    model = MixtureModel(M=model_matrices, m=data_means, C=LSBI_NOISE**2, mu=0.0, Sigma=1.0)
    component = rng.integers(k)
    theta = rng.normal(size=dim)
    data = (
        data_means[component]
        + model_matrices[component] @ theta
        + LSBI_NOISE * rng.normal(size=dim)
    )
    return model, data


def lsbi(dim: int) -> Problem:
    model, data = lsbi_model(dim)

    def log_l(theta):
        return np.asarray(model.likelihood(theta).logpdf(data), np.float64).reshape(len(theta))

    def transform(u):  # the N(0, I) prior; u of exactly 0 or 1 kept finite
        return special.ndtri(np.clip(u, 1e-15, 1 - 1e-15))

    lower, upper = _box(dim, math.inf)
    log_z = float(model.evidence().logpdf(data))
    return Problem(
        "lsbi", dim, lower, upper, log_l, log_z, "lsbi's closed form", transform=transform
    )


PROBLEMS = {"gaussian": gaussian, "shells": shells, "rosenbrock": rosenbrock, "lsbi": lsbi}


def get_problem(name: str, dim: int) -> Problem:
    if name not in PROBLEMS:
        raise PhysgenInputError(f"unknown problem '{name}': use one of {', '.join(PROBLEMS)}")
    if dim < 1:
        raise PhysgenInputError("--dim must be at least 1")
    return PROBLEMS[name](dim)


def problem_from_file(path, dim: int | None = None) -> Problem:
    """A user problem: a Python file defining ``log_likelihood(theta)`` for (n, dim) arrays and
    either ``bounds`` (a list of (low, high) pairs: a uniform prior) or ``prior_transform(u)``
    with ``dim``; optionally ``log_z_exact`` and ``names``."""
    path = Path(path)
    module = load_user_module(path, "likelihood")
    if not hasattr(module, "log_likelihood"):
        raise PhysgenInputError(f"{path} defines no log_likelihood(theta)")
    if hasattr(module, "bounds"):
        bounds = np.asarray(module.bounds, np.float64)
        if bounds.ndim != 2 or bounds.shape[1] != 2 or not (bounds[:, 1] > bounds[:, 0]).all():
            raise PhysgenInputError(f"{path}: bounds must be (low, high) pairs with low < high")
        lower, upper = bounds[:, 0], bounds[:, 1]
    else:
        raise PhysgenInputError(f"{path} defines no bounds = [(low, high), ...] of the prior")
    if dim is not None and dim != len(lower):
        raise PhysgenInputError(f"--dim {dim} but {path} has {len(lower)} parameters")
    return Problem(
        path.stem,
        len(lower),
        lower,
        upper,
        module.log_likelihood,
        getattr(module, "log_z_exact", None),
        "given by the file" if hasattr(module, "log_z_exact") else "",
        tuple(getattr(module, "names", ())),
    )
