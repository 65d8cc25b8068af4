"""Exact references for the 2D Ising model (J = 1, no field) on periodic lattices.

- Kaufman (1949) / Ferdinand-Fisher (1969): the partition function of the n x m torus,
  evaluated in log space with signs (below the critical point one term is negative).
- Onsager (1944): the free energy per site in infinite volume.
- Brute-force enumeration for small lattices of any of physgen's spin models.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special

__all__ = [
    "BETA_C",
    "kaufman_log_z",
    "onsager_free_energy",
    "free_energy_per_site",
    "log_z_by_enumeration",
]

BETA_C = 0.5 * math.log(1 + math.sqrt(2))


def _log_abs_sum(logs: list[float], signs: list[float]) -> float:
    top = max(logs)
    total = sum(s * math.exp(v - top) for v, s in zip(logs, signs, strict=True))
    if total <= 0:
        raise ArithmeticError("the partition function came out non-positive")
    return top + math.log(total)


def _log_2cosh(x: np.ndarray) -> np.ndarray:
    return np.abs(x) + np.log1p(np.exp(-2 * np.abs(x)))


def _log_abs_2sinh(x: np.ndarray) -> tuple[float, float]:
    """sum log|2 sinh x| and the sign of prod 2 sinh x (x = 0 gives -inf)."""
    with np.errstate(divide="ignore"):
        logs = np.abs(x) + np.log(-np.expm1(-2 * np.abs(x)))
    sign = float(np.prod(np.sign(x)))
    return float(np.sum(logs)), sign


def kaufman_log_z(beta: float, n: int, m: int | None = None) -> float:
    """ln Z of the 2D Ising model on an n x m torus at inverse temperature beta (J = 1)."""
    m = n if m is None else m
    k = float(beta)
    if k <= 0:
        raise ValueError("beta must be positive")
    ell = np.arange(2 * n)
    cosh_g = np.cosh(2 * k) / np.tanh(2 * k) - np.cos(np.pi * ell / n)
    g = np.arccosh(np.maximum(cosh_g, 1.0))
    g[0] = 2 * k + math.log(math.tanh(k))  # signed: negative below the critical point
    odd, even = g[1::2], g[0::2]
    log_z1 = float(np.sum(_log_2cosh(m * odd / 2)))
    log_z2, sign2 = _log_abs_2sinh(m * odd / 2)
    log_z3 = float(np.sum(_log_2cosh(m * even / 2)))
    log_z4, sign4 = _log_abs_2sinh(m * even / 2)
    terms = [(log_z1, 1.0), (log_z2, sign2), (log_z3, 1.0), (log_z4, sign4)]
    terms = [(v, s) for v, s in terms if np.isfinite(v) and s != 0]
    prefactor = -math.log(2) + 0.5 * n * m * math.log(2 * math.sinh(2 * k))
    return prefactor + _log_abs_sum([v for v, _ in terms], [s for _, s in terms])


def onsager_free_energy(beta: float) -> float:
    """Free energy per site f = -ln Z / (beta N) of the infinite 2D Ising model (J = 1)."""
    k = float(beta)
    c, s = math.cosh(2 * k) ** 2, math.sinh(2 * k)

    def inner(t1):
        return integrate.quad(
            lambda t2: math.log(c - s * (math.cos(t1) + math.cos(t2))), 0, math.pi, limit=200
        )[0]

    double, _ = integrate.quad(inner, 0, math.pi, limit=200)
    minus_beta_f = math.log(2) + double / (2 * math.pi**2)
    return -minus_beta_f / k


def free_energy_per_site(log_z: float, beta: float, n_sites: int) -> float:
    return -log_z / (beta * n_sites)


def log_z_by_enumeration(
    energy_fn, n_sites: int, beta: float, states: int = 2, batch: int = 1 << 16
) -> float:
    """ln sum_s exp(-beta E(s)) over all ``states``^n_sites configurations (small lattices).

    ``energy_fn`` takes an (n, n_sites) int array of spin indices 0..states-1."""
    total = states**n_sites
    if total > 1 << 26:
        raise ValueError(f"{total} configurations: too many to enumerate")
    logs = []
    for begin in range(0, total, batch):
        index = np.arange(begin, min(begin + batch, total))
        digits = (index[:, None] // states ** np.arange(n_sites)[None, :]) % states
        logs.append(special.logsumexp(-beta * energy_fn(digits)))
    return float(special.logsumexp(logs))
