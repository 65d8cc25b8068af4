"""Targets: unnormalised log-densities in torch (so their gradients exist) on a box, with the
exact log of their integral over that box where it is known.

Every target is zero (log-density -inf) outside its box, so that a flow on R^d, VEGAS on the
unit hypercube (``to_unit`` / ``from_unit``, an affine map with constant Jacobian) and the
exact value all integrate the same function. The boxes hold all but a negligible part of the
FAB paper's densities (Midgley et al., arXiv:2208.01893), and the exact values are for the
box itself (closed forms or 1-D quadrature), not for R^d.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate, special

__all__ = ["Target", "GaussianMixture", "ManyWell", "Funnel", "Gaussian", "TARGETS", "get_target"]


class Target:
    """Subclasses set ``name``, ``dim``, ``lower``, ``upper`` (numpy, (dim,)) and implement
    ``_log_density`` (inside the box); ``exact_log_z`` is the log of the integral over the
    box, or None."""

    name = "target"
    dim: int
    lower: np.ndarray
    upper: np.ndarray
    exact_log_z: float | None = None
    bounded = False  # True: defined on the box only (a flow must not draw outside it)

    def _log_density(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def inside(self, x: torch.Tensor) -> torch.Tensor:
        lower = torch.as_tensor(self.lower, dtype=x.dtype, device=x.device)
        upper = torch.as_tensor(self.upper, dtype=x.dtype, device=x.device)
        return ((x >= lower) & (x <= upper)).all(-1)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """(n,) unnormalised log-density of (n, dim) points; -inf outside the box."""
        values = self._log_density(x)
        return torch.where(self.inside(x), values, torch.full_like(values, -math.inf))

    @property
    def log_volume(self) -> float:
        return float(np.log(self.upper - self.lower).sum())

    def from_unit(self, u):
        """Points of the unit hypercube -> the box (the Jacobian is exp(log_volume))."""
        return self.lower + (self.upper - self.lower) * u

    def to_unit(self, x):
        return (x - self.lower) / (self.upper - self.lower)

    def describe(self) -> dict:
        return {
            "target": self.name,
            "dim": self.dim,
            "lower": self.lower.tolist(),
            "upper": self.upper.tolist(),
            "exact_log_z": self.exact_log_z,
        }


class GaussianMixture(Target):
    """``gmm-40``: 40 unit-variance Gaussians of equal weight, means uniform in [-40, 40]^2
    (seeded), normalised to 1 on R^2; the box [-50, 50]^2 loses under 1e-20 of it."""

    name = "gmm-40"

    def __init__(self, components: int = 40, spread: float = 40.0, seed: int = 0):
        self.dim = 2
        rng = np.random.default_rng(seed)
        self.means = rng.uniform(-spread, spread, size=(components, 2))
        self.lower, self.upper = np.full(2, -spread - 10.0), np.full(2, spread + 10.0)
        # Gaussian mass of each component in the box, summed, over the number of components
        low, high = self.lower - self.means, self.upper - self.means
        mass = (special.ndtr(high) - special.ndtr(low)).prod(1)
        self.exact_log_z = float(np.log(mass.mean()))

    def _log_density(self, x):
        means = torch.as_tensor(self.means, dtype=x.dtype, device=x.device)
        squared = (x[:, None, :] - means).square().sum(-1)
        return torch.logsumexp(-0.5 * squared, 1) - math.log(2 * math.pi * len(self.means))

    def nearest_mode(self, x: np.ndarray) -> np.ndarray:
        """The index of the nearest mean of each row of ``x``, and -1 beyond 3 sigma."""
        distance = np.linalg.norm(x[:, None, :] - self.means, axis=-1)
        nearest = distance.argmin(1)
        return np.where(distance.min(1) < 3.0, nearest, -1)


def _double_well_log_z(low: float, high: float) -> float:
    value, _ = integrate.quad(
        lambda t: math.exp(-(t**4) + 6 * t**2 + 0.5 * t), low, high, epsabs=0, epsrel=1e-13
    )
    return math.log(value)


class ManyWell(Target):
    """``many-well-32``: 16 independent copies of the 2-D double well
    log p(a, b) = -a^4 + 6 a^2 + 0.5 a - b^2 / 2 (Midgley et al.; 2^16 modes), on [-3, 3] for
    each a and [-6, 6] for each b. log Z = 16 (log of a 1-D quadrature of the well + the log
    of the Gaussian's box integral)."""

    name = "many-well-32"

    def __init__(self, dim: int = 32):
        if dim % 2:
            raise ValueError("the many-well target needs an even dimension")
        self.dim = dim
        half = np.array([3.0, 6.0] * (dim // 2))
        self.lower, self.upper = -half, half
        gaussian = math.log(math.sqrt(2 * math.pi) * (2 * special.ndtr(6.0) - 1))
        self.exact_log_z = dim // 2 * (_double_well_log_z(-3.0, 3.0) + gaussian)

    def _log_density(self, x):
        a, b = x[:, 0::2], x[:, 1::2]
        return (-(a**4) + 6 * a**2 + 0.5 * a - 0.5 * b**2).sum(1)


class Funnel(Target):
    """``funnel``: Neal's funnel in 10-D, v ~ N(0, 3^2), x_i | v ~ N(0, e^v) (i = 1..9),
    normalised on R^10, on the box |v| <= 9, |x_i| <= 30; exact log Z of the box by 1-D
    quadrature over v of N(v) (2 Phi(30 e^{-v/2}) - 1)^9."""

    name = "funnel"

    def __init__(self, dim: int = 10, v_bound: float = 9.0, x_bound: float = 30.0):
        self.dim = dim
        self.lower = np.array([-v_bound] + [-x_bound] * (dim - 1))
        self.upper = -self.lower

        def integrand(v):
            inside = 2 * special.ndtr(x_bound * math.exp(-v / 2)) - 1
            return math.exp(-v * v / 18) / (3 * math.sqrt(2 * math.pi)) * inside ** (dim - 1)

        value, _ = integrate.quad(integrand, -v_bound, v_bound, epsabs=0, epsrel=1e-12)
        self.exact_log_z = math.log(value)

    def _log_density(self, x):
        v, rest = x[:, 0], x[:, 1:]
        log_v = -0.5 * v**2 / 9 - math.log(3 * math.sqrt(2 * math.pi))
        n = rest.shape[1]
        log_x = -0.5 * (rest.square().sum(1) * torch.exp(-v) + n * v + n * math.log(2 * math.pi))
        return log_v + log_x


class Gaussian(Target):
    """``gaussian``: exp(-|x - mu|^2 / (2 s^2)) unnormalised, on [-10, 10]^dim; the check case
    with log Z = dim log(s sqrt(2 pi)) up to the box's negligible tails (computed exactly)."""

    name = "gaussian"

    def __init__(self, dim: int = 2, mean: float = 1.0, scale: float = 0.5):
        self.dim, self.mean, self.scale = dim, mean, scale
        self.lower, self.upper = np.full(dim, -10.0), np.full(dim, 10.0)
        mass = special.ndtr((10 - mean) / scale) - special.ndtr((-10 - mean) / scale)
        self.exact_log_z = dim * math.log(scale * math.sqrt(2 * math.pi) * mass)

    def _log_density(self, x):
        return -0.5 * ((x - self.mean) / self.scale).square().sum(1)


TARGETS = {
    "gmm-40": GaussianMixture,
    "many-well-32": ManyWell,
    "funnel": Funnel,
    "gaussian": Gaussian,
}


def get_target(name: str) -> Target:
    from physgen.core.errors import PhysgenInputError

    if name in TARGETS:
        return TARGETS[name]()
    parts = name.split("-")
    if parts[0] == "nbody" and len(parts) in (2, 3) and parts[1].isdigit():
        if int(parts[1]) < 3 or (len(parts) == 3 and parts[2] != "flat"):
            raise PhysgenInputError(f"target '{name}': use nbody-N or nbody-N-flat with N >= 3")
        from physgen.integrate.phase_space import NBodyTarget

        return NBodyTarget(int(parts[1]), flat=len(parts) == 3)
    if ":" in name:
        from physgen.integrate.user_target import load_user_target

        return load_user_target(name)
    raise PhysgenInputError(
        f"unknown target '{name}': use one of {', '.join(TARGETS)}, nbody-N[-flat] or "
        "FILE.py:FUNCTION"
    )
