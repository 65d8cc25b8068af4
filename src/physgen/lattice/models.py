"""Lattice spin models with vectorised energies (periodic boundaries).

Spins are arrays (numpy or torch) of shape (batch, *lattice): Ising spins take values
-1/+1, Potts spins 0..q-1, Z2 gauge links -1/+1 on the (2, L, L) links of a square lattice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _roll(x, axis: int):
    return torch.roll(x, -1, dims=axis) if torch.is_tensor(x) else np.roll(x, -1, axis=axis)


def _as_batch(x, shape):
    return x.reshape(-1, *shape) if torch.is_tensor(x) else np.asarray(x).reshape(-1, *shape)


__all__ = ["AnisotropicIsing", "Ising", "Potts", "Z2Gauge", "spins_from_bits"]


def _neighbour_sum(spins, axis_count: int, product):
    total = 0
    for axis in range(1, axis_count + 1):
        total = total + product(spins, _roll(spins, axis))
    return total


class _HypercubicLattice:
    """Shape of an L^dim periodic lattice of site spins."""

    L: int
    dim: int

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.L,) * self.dim

    @property
    def n_sites(self) -> int:
        return self.L**self.dim


@dataclass(frozen=True)
class Ising(_HypercubicLattice):
    """H = -J sum_<ij> s_i s_j - h sum_i s_i on an L^d periodic lattice (d = 2 or 3)."""

    L: int
    dim: int = 2
    J: float = 1.0
    h: float = 0.0

    def energy(self, spins) -> np.ndarray:
        spins = _as_batch(spins, self.shape)
        bonds = _neighbour_sum(spins, self.dim, lambda a, b: a * b)
        axes = tuple(range(1, self.dim + 1))
        return -self.J * bonds.sum(axis=axes) - self.h * spins.sum(axis=axes)


@dataclass(frozen=True)
class AnisotropicIsing:
    """H = -J_rows sum s_{r,c} s_{r+1,c} - J_cols sum s_{r,c} s_{r,c+1} on a rows x cols torus
    (the classical form of the transverse-field Ising chain: rows are imaginary-time slices)."""

    rows: int
    cols: int
    J_rows: float = 1.0
    J_cols: float = 1.0

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.cols)

    @property
    def n_sites(self) -> int:
        return self.rows * self.cols

    def energy(self, spins) -> np.ndarray:
        spins = _as_batch(spins, self.shape)
        vertical = (spins * _roll(spins, 1)).sum(axis=(1, 2))
        horizontal = (spins * _roll(spins, 2)).sum(axis=(1, 2))
        return -self.J_rows * vertical - self.J_cols * horizontal


@dataclass(frozen=True)
class Potts(_HypercubicLattice):
    """H = -J sum_<ij> delta(s_i, s_j) on an L^d periodic lattice, q states."""

    L: int
    q: int = 3
    J: float = 1.0
    dim: int = 2

    def energy(self, spins) -> np.ndarray:
        spins = _as_batch(spins, self.shape)
        equal = _neighbour_sum(spins, self.dim, lambda a, b: 1 * (a == b))
        return -self.J * equal.sum(axis=tuple(range(1, self.dim + 1)))


@dataclass(frozen=True)
class Z2Gauge:
    """Wegner's Z2 lattice gauge theory in 2D: H = -J sum_plaquettes U_p, U_p the product of
    the four links around a plaquette; links (batch, 2, L, L): [0] along x, [1] along y."""

    L: int
    J: float = 1.0

    @property
    def shape(self) -> tuple[int, ...]:
        return (2, self.L, self.L)

    @property
    def n_sites(self) -> int:
        return 2 * self.L**2

    def energy(self, links) -> np.ndarray:
        links = _as_batch(links, (2, self.L, self.L))
        ux, uy = links[:, 0], links[:, 1]
        plaquettes = ux * _roll(uy, 1) * _roll(ux, 2) * uy
        return -self.J * plaquettes.sum(axis=(1, 2))


def spins_from_bits(bits) -> np.ndarray:
    """0/1 -> -1/+1."""
    return 2 * np.asarray(bits) - 1
