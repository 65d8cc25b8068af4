"""Massless n-body phase space from the unit hypercube of dimension 3n - 4 ("RAMBO on diet",
Platzer, arXiv:1308.2922): a bijection with a constant weight, the phase-space volume

    Phi_n = (2 pi)^(4 - 3n) (pi / 2)^(n - 1) s^(n - 2) / ((n - 1)! (n - 2)!),

so that the integral of |M|^2 over phase space is Phi_n times the mean of |M|^2 over the cube.

The intermediate masses M_i^2 = u_2 ... u_i s come from r = (n + 1 - i) u^(n - i)
- (n - i) u^(n + 1 - i), solved by bisection and then one Newton step taken with autograd, so
that the map is differentiable (the Newton step from the converged root has the exact
derivative 1 / r'(u)). Each step splits Q_i into a massless p_i and Q_{i+1} back to back in
Q_i's rest frame (directions from two more numbers) and boosts both to the lab.

``NBodyTarget``: the density on the cube log |M|^2(p(r)) + log Phi_n, with the smooth test
matrix element |M|^2 = prod_{i=1}^{n-1} s / (s_{i,i+1} + m0^2 s) (peaked where neighbouring
particles are collinear, m0^2 = 0.01); its exact integral is not known in closed form, so the
reference is flat Monte Carlo with its error (``reference_log_z``). With ``flat`` the matrix
element is 1 and log Z = log Phi_n exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from physgen.integrate.targets import Target

__all__ = ["phase_space_volume", "massless_momenta", "NBodyTarget"]


def phase_space_volume(n: int, s: float = 1.0) -> float:
    return (
        (2 * math.pi) ** (4 - 3 * n)
        * (math.pi / 2) ** (n - 1)
        * s ** (n - 2)
        / (math.factorial(n - 1) * math.factorial(n - 2))
    )


def _solve_u(r: torch.Tensor, k: int) -> torch.Tensor:
    """u in [0, 1] with (k + 1) u^k - k u^(k + 1) = r (increasing in u), differentiable in r."""

    def g(u):
        return (k + 1) * u**k - k * u ** (k + 1)

    with torch.no_grad():
        low, high = torch.zeros_like(r), torch.ones_like(r)
        for _ in range(60):
            mid = (low + high) / 2
            below = g(mid) < r
            low, high = torch.where(below, mid, low), torch.where(below, high, mid)
        root = (low + high) / 2
    slope = (k + 1) * k * root ** (k - 1) * (1 - root)
    return root + (r - g(root)) / slope.clamp_min(1e-300)


def _boost(p: torch.Tensor, frame: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """p (n, 4) given in the rest frame of ``frame`` (n, 4, lab; its invariant ``mass``, known
    exactly, not recomputed from the cancelling E^2 - |p|^2) -> the lab."""
    beta = frame[:, 1:] / frame[:, :1]
    gamma = frame[:, 0] / mass
    bp = (beta * p[:, 1:]).sum(1)
    beta2 = (beta**2).sum(1)
    factor = (
        torch.where(beta2 > 0, (gamma - 1) / beta2.clamp_min(1e-300), 0.5) * bp + gamma * p[:, 0]
    )
    energy = gamma * (p[:, 0] + bp)
    return torch.cat([energy[:, None], p[:, 1:] + factor[:, None] * beta], 1)


def massless_momenta(r: torch.Tensor, n: int, sqrt_s: float = 1.0) -> torch.Tensor:
    """(batch, 3n - 4) points of the unit cube -> (batch, n, 4) massless momenta summing to
    (sqrt_s, 0, 0, 0)."""
    batch = r.shape[0]
    masses = [torch.full((batch,), sqrt_s, dtype=r.dtype, device=r.device)]
    for i in range(2, n):
        # u = M_i^2 / M_{i-1}^2 has density (1 - u) u^(n - i - 1): two-body phase space times
        # the (n - i + 1)-body volume of the rest, which grows as M_i^(2 (n - i - 1))
        masses.append(masses[-1] * torch.sqrt(_solve_u(r[:, i - 2], n - i)))
    masses.append(torch.zeros(batch, dtype=r.dtype, device=r.device))
    angles = r[:, n - 2 :]
    frame = torch.cat(
        [masses[0][:, None], torch.zeros(batch, 3, dtype=r.dtype, device=r.device)], 1
    )
    momenta = []
    for i in range(n - 1):
        q = (masses[i] ** 2 - masses[i + 1] ** 2) / (2 * masses[i])
        cos = 2 * angles[:, 2 * i] - 1
        sin = torch.sqrt((1 - cos**2).clamp_min(0))
        phi = 2 * math.pi * angles[:, 2 * i + 1]
        direction = torch.stack([sin * torch.cos(phi), sin * torch.sin(phi), cos], 1)
        p = torch.cat([q[:, None], q[:, None] * direction], 1)
        rest = torch.cat(
            [torch.sqrt(q**2 + masses[i + 1] ** 2)[:, None], -q[:, None] * direction], 1
        )
        momenta.append(_boost(p, frame, masses[i]))
        frame = _boost(rest, frame, masses[i])
    momenta.append(frame)
    return torch.stack(momenta, 1)


def _dot(a, b):
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


class NBodyTarget(Target):
    bounded = True

    def __init__(self, n: int = 4, m0_squared: float = 0.01, flat: bool = False):
        if n < 3:
            raise ValueError("the n-body phase space needs n >= 3")
        self.n, self.m0_squared, self.flat = n, m0_squared, flat
        self.name = f"nbody-{n}" + ("-flat" if flat else "")
        self.dim = 3 * n - 4
        self.lower, self.upper = np.zeros(self.dim), np.ones(self.dim)
        self.log_volume_phase_space = math.log(phase_space_volume(n))
        self.exact_log_z = self.log_volume_phase_space if flat else None

    def log_matrix_element(self, momenta: torch.Tensor) -> torch.Tensor:
        if self.flat:
            return torch.zeros(momenta.shape[0], dtype=momenta.dtype, device=momenta.device)
        s_pairs = 2 * _dot(momenta[:, :-1], momenta[:, 1:])  # s_{i,i+1}, s = 1
        return -torch.log(s_pairs + self.m0_squared).sum(1)

    def _log_density(self, x):
        inside = x.clamp(1e-12, 1 - 1e-12)
        return self.log_matrix_element(massless_momenta(inside, self.n)) + (
            self.log_volume_phase_space
        )

    def reference_log_z(self, n_points: int = 2_000_000, seed: int = 0) -> tuple[float, float]:
        """log Z and its error by flat Monte Carlo on the cube."""
        generator = torch.Generator().manual_seed(seed)
        values = []
        for _ in range(0, n_points, 200_000):
            r = torch.rand(200_000, self.dim, generator=generator, dtype=torch.float64)
            values.append(torch.exp(self.log_density(r) - self.log_volume_phase_space))
        w = torch.cat(values)
        mean = w.mean().item()
        return math.log(mean) + self.log_volume_phase_space, (
            w.std() / w.numel() ** 0.5
        ).item() / mean
