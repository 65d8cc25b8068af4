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
import math

import torch

__all__ = [
    "torus_halves_mutual_information",
    "half_boundary_log_weights",
    "row_index",
    "half_internal_energy",
    "mutual_information_estimate",
    "mutual_information_terms",
    "combine_mutual_information",
    "exact_conditional_log_z",
]


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


def half_boundary_log_weights(L: int, beta: float, J: float = 1.0) -> torch.Tensor:
    """ln W[x, y]: the summed Boltzmann weight of one half (with both connecting bond rows)
    given the first row x and the last row y of the other half, for x, y in row-state index
    order (bit i of the index = spin i, 1 meaning +1). Transfer matrix, L <= 14."""
    rows = _rows(L)
    e_intra = -J * (rows * torch.roll(rows, -1, dims=1)).sum(1)
    overlap = rows @ rows.T
    bonds = torch.exp(beta * J * overlap)
    weights = _half_weights(
        torch.tensor(float(beta), dtype=torch.float64), e_intra, overlap, J, L // 2
    )
    return torch.log((bonds @ weights @ bonds).T)


def half_internal_energy(part: torch.Tensor, J: float = 1.0) -> torch.Tensor:
    """Energy of the bonds inside (n, rows, L) spins of a half: periodic along rows, open
    across them."""
    part = part.double()
    horizontal = (part * torch.roll(part, -1, dims=2)).sum((1, 2))
    vertical = (part[:, :-1] * part[:, 1:]).sum((1, 2))
    return -J * (horizontal + vertical)


def row_index(rows_pm: torch.Tensor) -> torch.Tensor:
    """Index into the row states of ``_rows``: (..., L) spins of -1/+1 -> int64."""
    bits = (rows_pm > 0).long()
    L = rows_pm.shape[-1]
    return (bits * (2 ** torch.arange(L - 1, -1, -1))).sum(-1)


def mutual_information_terms(
    spins_pm: torch.Tensor,
    log_q: torch.Tensor,
    energies: torch.Tensor,
    beta: float,
    log_z_a,
    log_z_b,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (ln w_hat, -beta E - ln Z(a) - ln Z(b)) of the estimator below; samples can
    be processed in chunks and the concatenated terms combined once."""
    log_w = -beta * energies.double() - log_q.double()
    terms = -beta * energies.double() - log_z_a(spins_pm).double() - log_z_b(spins_pm).double()
    return log_w, terms


def combine_mutual_information(log_w: torch.Tensor, terms: torch.Tensor) -> dict:
    """I = ln mean(w_hat) + mean(w f) / mean(w), with its delta-method standard error."""
    n = len(log_w)
    log_mean_w = torch.logsumexp(log_w, 0) - math.log(n)
    w = torch.exp(log_w - log_w.max())
    w = w / w.mean()
    mean_f = (w * terms).mean()
    influence = (w - 1) + w * (terms - mean_f)
    return {
        "mutual_information": float(log_mean_w + mean_f),
        "mutual_information_err": float(influence.std() / math.sqrt(n)),
        "n_samples": n,
    }


def mutual_information_estimate(
    spins_pm: torch.Tensor,
    log_q: torch.Tensor,
    energies: torch.Tensor,
    beta: float,
    log_z_a,
    log_z_b,
) -> dict:
    """Importance-sampling estimate of I(A:B) between the halves (Bialas et al.):
    I = ln<w_hat> - beta <w E> - <w ln Z(a)> - <w ln Z(b)>, with w_hat = exp(-beta E) / q the
    raw and w the self-normalised weights, Z(a) = sum_b exp(-beta E(a, b)) (A's energy
    included). ``log_z_a`` / ``log_z_b`` map the (n, L, L) configurations to ln Z(a), ln Z(b).
    Returns the estimate and its delta-method standard error."""
    terms = mutual_information_terms(spins_pm, log_q, energies, beta, log_z_a, log_z_b)
    return combine_mutual_information(*terms)


def exact_conditional_log_z(L: int, beta: float, J: float = 1.0):
    """ln Z(a) and ln Z(b) of the torus halves by transfer matrix (the A half = rows
    0..L/2-1): Z(a) = exp(-beta E_A(a)) W(a_first, a_last)."""
    log_w = half_boundary_log_weights(L, beta, J)
    half = L // 2

    def log_z_a(spins):
        a = spins[:, :half].double()
        return -beta * half_internal_energy(a, J) + log_w[row_index(a[:, 0]), row_index(a[:, -1])]

    def log_z_b(spins):
        b = spins[:, half:].double()
        return -beta * half_internal_energy(b, J) + log_w[row_index(b[:, 0]), row_index(b[:, -1])]

    return log_z_a, log_z_b
