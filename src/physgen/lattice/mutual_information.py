"""Exact Shannon mutual information between the two halves of an L x L Ising torus.

The torus is cut into A (rows 0..L/2-1) and B (rows L/2..L-1), which touch along two rows
of bonds. With row-to-row transfer matrices (2^L states per row, so L <= 12 or so):
M(x, y) sums the Boltzmann weight of a half whose first and last rows are x and y, the
marginal of A depends on A only through its energy and its two boundary rows, and
  S(A) = ln Z + beta <E_A> - <ln W(a_first, a_last)>,  S(AB) = ln Z + beta <E>,
  I(A:B) = S(A) + S(B) - S(AB) = 2 S(A) - S(AB)   (the halves are equivalent),
where W(x, y) is the weight of B (with both connecting bond rows) given A's boundary rows.
Energy averages come from exact derivatives of ln Z (torch autograd in float64).
"""

from __future__ import annotations

import itertools

import torch

__all__ = ["torus_halves_mutual_information"]


def _rows(L: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([-1.0, 1.0], repeat=L)), dtype=torch.float64)


def _half_weights(beta, e_intra, overlap, J, height):
    """M[x, y]: summed weight of `height` rows with first row x and last row y."""
    diagonal = torch.exp(-beta * e_intra)
    bonds = torch.exp(beta * J * overlap)
    weights = torch.diag(diagonal)
    for _ in range(height - 1):
        weights = (weights @ bonds) * diagonal[None, :]
    return weights


def torus_halves_mutual_information(L: int, beta: float, J: float = 1.0) -> dict:
    """Exact I(A:B) for the two L x L/2 halves of the L x L torus, with ln Z and entropies."""
    if L % 2 or L < 2:
        raise ValueError("L must be even")
    if L > 14:
        raise ValueError("the transfer matrix has 2^L states per row: L <= 14")
    rows = _rows(L)
    e_intra = -J * (rows * torch.roll(rows, -1, dims=1)).sum(1)
    overlap = rows @ rows.T
    # A's internal couplings get their own beta_a (d ln Z / d beta_a = -<E_A>); scaling it by
    # beta_all / beta ties it to the global beta, so d ln Z / d beta_all = -<E>.
    beta_a = torch.tensor(float(beta), dtype=torch.float64, requires_grad=True)
    beta_all = torch.tensor(float(beta), dtype=torch.float64, requires_grad=True)
    half = L // 2
    m_a = _half_weights(beta_a * beta_all / float(beta), e_intra, overlap, J, half)
    m_b = _half_weights(beta_all, e_intra, overlap, J, half)
    bonds = torch.exp(beta_all * J * overlap)
    outside = (bonds @ m_b @ bonds).T  # W[x, y]: x = first row of A, y = last row of A
    joint = m_a * outside
    log_z = torch.log(joint.sum())
    grad_a, grad_all = torch.autograd.grad(log_z, (beta_a, beta_all))
    energy_a = -float(grad_a)
    energy_total = -float(grad_all)  # d ln Z / d beta with beta_a tied to beta
    with torch.no_grad():
        boundary = joint / joint.sum()
        mean_log_w = float((boundary * torch.log(outside)).sum())
    log_z = float(log_z.detach())
    s_half = log_z + beta * energy_a - mean_log_w
    s_total = log_z + beta * energy_total
    return {
        "L": L,
        "beta": beta,
        "log_z": log_z,
        "entropy_half": s_half,
        "entropy_total": s_total,
        "mutual_information": 2 * s_half - s_total,
        "energy_per_site": energy_total / L**2,
    }
