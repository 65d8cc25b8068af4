"""Renyi-2 entanglement entropy of the transverse-field Ising chain by the replica trick on
its classical 2D Ising form, estimated with a neural sampler.

Suzuki-Trotter: for H = -J sum z_i z_{i+1} - h sum x_i on a ring of N sites, Tr exp(-beta H)
with beta = M delta becomes (up to a constant) the partition function of an M x N torus of
classical spins (rows = imaginary-time slices) with weights exp(K_x sum s s (space) +
K_t sum s s (time)), K_x = delta J and tanh K_t = exp(-2 delta h). Cutting the time bonds
between slice M-1 and slice 0 defines rho = T^M / Tr T^M with T = X^(1/2) D X^(1/2)
(D: the space bonds of one slice, X: one time step), which tends to the ground state of H
as beta grows, with a Trotter error O(delta^2).

Replica trick: Tr rho_A^2 = Z_2(A) / Z^2, Z_2(A) the partition function of two copies whose
cut time bonds at the sites of A join copy 1 to copy 2 and copy 2 to copy 1. Written as an
average over two independent copies s, s' of the single torus (the swap estimator),
Tr rho_A^2 = E[exp(-dE_A(s, s'))], -dE_A = K_t sum_{i in A} (a_i b'_i + a'_i b_i - a_i b_i -
a'_i b'_i), a = slice M-1 and b = slice 0; with samples of a sampler q it is reweighted by
w = exp(-E) / q of both copies. S_2 = -ln Tr rho_A^2. The average is efficient while S_2 is
of order one (its relative variance grows like exp(S_2)); larger intervals need the ratio
trick with samplers of the replicated geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from physgen.lattice.estimators import draw
from physgen.lattice.models import AnisotropicIsing
from physgen.lattice.quantum_ising import renyi_entropy

__all__ = [
    "TrotterChain",
    "exact_renyi2",
    "renyi2_swap_estimate",
    "replica_energy",
    "swap_log_factors",
]


@dataclass(frozen=True)
class TrotterChain:
    """The M x N classical torus of a ring of N sites at inverse temperature beta = M delta."""

    sites: int
    slices: int
    step: float
    J: float = 1.0
    h: float = 1.0

    def __post_init__(self):
        if self.sites < 2 or self.slices < 2 or self.step <= 0:
            raise ValueError("a Trotter chain needs sites >= 2, slices >= 2 and a step > 0")

    @property
    def beta(self) -> float:
        return self.slices * self.step

    @property
    def K_space(self) -> float:
        return self.step * self.J

    @property
    def K_time(self) -> float:
        return -0.5 * math.log(math.tanh(self.step * self.h))

    def classical_model(self) -> AnisotropicIsing:
        """Energy = minus the classical log-weight (to be used at beta = 1)."""
        return AnisotropicIsing(self.slices, self.sites, J_rows=self.K_time, J_cols=self.K_space)


def _slice_states(sites: int) -> np.ndarray:
    bits = (np.arange(2**sites)[:, None] >> np.arange(sites)) & 1
    return 2 * bits - 1  # row k: the spins of state k, site i = bit i


def exact_renyi2(chain: TrotterChain, subsystem_sizes) -> np.ndarray:
    """S_2 of the first l sites, for each l, from the dense 2^N transfer matrix (N <= 12)."""
    if chain.sites > 12:
        raise ValueError("the exact transfer matrix is 2^N x 2^N: N <= 12")
    spins = _slice_states(chain.sites)
    bonds = (spins * np.roll(spins, -1, axis=1)).sum(1)
    diagonal = np.exp(chain.K_space * (bonds - chain.sites))  # scaled: only ratios matter
    c, s = math.sqrt(2 * math.cosh(chain.K_time)), math.sqrt(2 * math.sinh(chain.K_time))
    half_step = np.array([[c + s, c - s], [c - s, c + s]]) / 2  # X^(1/2) of one site
    x_half = np.ones((1, 1))
    for _ in range(chain.sites):
        x_half = np.kron(x_half, half_step)
    values, vectors = np.linalg.eigh(x_half @ np.diag(diagonal) @ x_half)
    weights = (values / values.max()) ** chain.slices
    rho = (vectors * weights) @ vectors.T
    rho /= np.trace(rho)
    result = []
    for size in subsystem_sizes:
        if not 0 < size < chain.sites:
            raise ValueError(f"subsystem size {size} outside 1..{chain.sites - 1}")
        rest = 2 ** (chain.sites - size)
        blocks = rho.reshape(rest, 2**size, rest, 2**size)
        rho_a = np.einsum("iaib->ab", blocks)  # sites 0..l-1 are the low bits
        result.append(-math.log(float(np.sum(rho_a * rho_a.T))))
    return np.array(result)


def swap_log_factors(first: torch.Tensor, second: torch.Tensor, K_time: float) -> torch.Tensor:
    """-dE_A for A = sites 0..l-1, every l = 1..N at once: (pairs, N), column l-1.

    ``first`` and ``second`` are (pairs, M, N) +-1 spins (or (pairs, 2, N): slices 0, M-1)."""
    a, b = first[:, -1].double(), first[:, 0].double()
    a2, b2 = second[:, -1].double(), second[:, 0].double()
    return K_time * torch.cumsum(a * b2 + a2 * b - a * b - a2 * b2, dim=1)


def replica_energy(first: torch.Tensor, second: torch.Tensor, chain: TrotterChain, size: int):
    """Energy of the two-sheet system Z_2(A), A = sites 0..size-1, written bond by bond: the
    time bonds leaving slice M-1 at the sites of A end in slice 0 of the other copy."""
    model = chain.classical_model()
    total = 0
    for copy, other in ((first, second), (second, first)):
        rows = copy.double()
        space = (rows * torch.roll(rows, -1, dims=2)).sum((1, 2))
        inner_time = (rows[:, :-1] * rows[:, 1:]).sum((1, 2))
        partner = torch.cat([other[:, 0, :size], copy[:, 0, size:]], dim=1).double()
        seam = (rows[:, -1] * partner).sum(1)
        total = total - model.J_cols * space - model.J_rows * (inner_time + seam)
    return total


def renyi2_swap_estimate(
    log_w: np.ndarray,
    edge_slices: torch.Tensor,
    K_time: float,
    blocks: int = 20,
    pairings: int = 8,
    seed: int = 0,
) -> dict:
    """S_2(l) for l = 1..N from independent samples with log-weights ln w = -E - ln q.

    ``edge_slices``: (n, 2, N) spins of slices 0 and M-1 of each sample. The samples are cut
    into ``blocks`` blocks; inside each, the first half is paired with ``pairings`` random
    permutations of the second half (all pairs are unbiased, reusing samples lowers the
    variance). Errors by the jackknife over blocks."""
    n = len(log_w) - len(log_w) % (2 * blocks)
    if n < 2 * blocks:
        raise ValueError(f"need at least {2 * blocks} samples for {blocks} blocks")
    log_w = torch.as_tensor(log_w[:n], dtype=torch.float64)
    w = torch.exp(log_w - log_w.max())
    edges = edge_slices[:n]
    generator = torch.Generator().manual_seed(seed)
    half = n // (2 * blocks)
    numerators, denominators, pair_weights = [], [], []
    for block in range(blocks):
        first = torch.arange(2 * half * block, 2 * half * block + half)
        second_all = first + half
        numerator, denominator = 0.0, 0.0
        for _ in range(pairings):
            second = second_all[torch.randperm(half, generator=generator)]
            weight = w[first] * w[second]
            factors = torch.exp(swap_log_factors(edges[first], edges[second], K_time))
            numerator = numerator + (weight[:, None] * factors).sum(0)
            denominator = denominator + weight.sum()
            pair_weights.append(weight)
        numerators.append(numerator)
        denominators.append(denominator)
    numerators, denominators = torch.stack(numerators), torch.stack(denominators)
    entropy = -torch.log(numerators.sum(0) / denominators.sum())
    leave_out = -torch.log(
        (numerators.sum(0) - numerators) / (denominators.sum() - denominators)[:, None]
    )
    error = torch.sqrt((blocks - 1) / blocks * ((leave_out - leave_out.mean(0)) ** 2).sum(0))
    pair_weights = torch.cat(pair_weights)
    return {
        "renyi2": entropy.numpy(),
        "renyi2_err": error.numpy(),
        "pair_ess_fraction": float(
            pair_weights.sum() ** 2 / (len(pair_weights) * (pair_weights**2).sum())
        ),
        "n_samples": n,
    }


def draw_edge_slices(sampler, chain: TrotterChain, n: int, batch: int = 10_000, seed: int = 0):
    """n samples of the chain's torus: (ln w = -E - ln q, (n, 2, N) slices 0 and M-1)."""
    model = chain.classical_model()

    def torus(bits):
        return (2 * bits - 1).view(-1, chain.slices, chain.sites)

    log_q, energies, edges = draw(
        sampler,
        lambda bits: model.energy(torus(bits)).double(),
        n,
        batch,
        seed,
        keep=lambda bits: torus(bits)[:, [0, -1]].clone(),
    )
    return -energies - log_q, edges


def chain_renyi2(sampler, chain: TrotterChain, samples: int, seed: int = 0) -> dict:
    """S_2(l), l = 1..N-1, from a trained sampler of the chain's torus, with the exact values
    of the same lattice (transfer matrix, N <= 12) and of the quantum ground state beside."""
    log_w, edges = draw_edge_slices(sampler, chain, samples, seed=seed)
    estimate = renyi2_swap_estimate(log_w, edges, chain.K_time, seed=seed)
    sizes = list(range(1, chain.sites))
    result = {
        "subsystem_sizes": sizes,
        "renyi2": estimate["renyi2"][:-1].tolist(),
        "renyi2_err": estimate["renyi2_err"][:-1].tolist(),
        "pair_ess_fraction": estimate["pair_ess_fraction"],
        "n_samples": estimate["n_samples"],
        "quantum_ground_state_renyi2": [
            renyi_entropy(chain.sites, size, 2.0, chain.J, chain.h) for size in sizes
        ],
    }
    if chain.sites <= 12:
        result["exact_lattice_renyi2"] = exact_renyi2(chain, sizes).tolist()
    return result
