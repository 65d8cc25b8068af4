"""Hierarchical autoregressive network (HAN) for spins on an L x L torus, L a power of two.

Bialas, Korcyl and Stebel, Comput. Phys. Commun. 281 (2022) 108502 (arXiv:2203.10989): a VAN
generates the border (row 0 and column 0, which enclose the (L-1) x (L-1) interior on the
torus); each enclosed square of side m = 2^j - 1 is then split by a cross (its middle row and
column, 2m - 1 sites) generated conditionally on the square's border (4m + 4 sites), and the
four squares of side (m - 1)/2 left are treated the same way, down to single sites. One
conditional network per square size is shared by all squares of that size (translation
invariance), so each level is one batched pass. log q(s) is exact: the sum of the border's
and every cross's conditional log-probabilities.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from physgen.models.autoregressive import MADE

__all__ = ["ConditionalMADE", "HierarchicalSampler"]


class ConditionalMADE(nn.Module):
    """Logits (batch, q, n_sites) of each site given the previous ones and a visible context
    (a one-layer VAN whose bias depends linearly on the context's one-hot)."""

    def __init__(self, n_context: int, n_sites: int, q: int = 2):
        super().__init__()
        self.n_sites, self.q = n_sites, q
        self.made = MADE(n_sites, q, depth=1)
        self.context = nn.Linear(n_context * q, n_sites * q, bias=False)
        nn.init.zeros_(self.context.weight)

    def forward(self, one_hot: torch.Tensor, context_one_hot: torch.Tensor) -> torch.Tensor:
        shift = self.context(context_one_hot.flatten(1)).view(-1, self.n_sites, self.q)
        return self.made(one_hot) + shift.transpose(1, 2)

    def log_prob(self, values: torch.Tensor, context_one_hot: torch.Tensor) -> torch.Tensor:
        """log q(values | context) for (batch, n_sites) integer values."""
        logits = self(F.one_hot(values, self.q).float(), context_one_hot)
        return F.log_softmax(logits, dim=1).gather(1, values.unsqueeze(1)).squeeze(1).sum(1)

    @torch.no_grad()
    def sample(self, context_one_hot: torch.Tensor, generator=None) -> torch.Tensor:
        """One draw (batch, n_sites) per context row."""
        shift = self.context(context_one_hot.flatten(1))
        return self.made.sample_incremental(len(shift), generator, shift)


def _square_sites(L: int, top: int, left: int, m: int) -> tuple[list[int], list[int]]:
    """(border, cross) site indices of the m x m square at (top, left), in a fixed relative
    order (the same for every square of that size)."""

    def site(row, col):
        return (row % L) * L + (col % L)

    border = [site(top - 1, left - 1 + k) for k in range(m + 2)]
    border += [site(top + m, left - 1 + k) for k in range(m + 2)]
    border += [site(top + k, left - 1) for k in range(m)]
    border += [site(top + k, left + m) for k in range(m)]
    half = (m - 1) // 2
    cross = [site(top + half, left + k) for k in range(m)]
    cross += [site(top + k, left + half) for k in range(m) if k != half]
    return border, cross


class HierarchicalSampler(nn.Module):
    """HAN over (batch, L*L) spins in {0..q-1}; the interface of ``AutoregressiveSampler``."""

    def __init__(self, L: int, q: int = 2, z2_symmetric: bool = False):
        super().__init__()
        if L < 4 or L & (L - 1):
            raise ValueError(f"HAN needs L a power of two >= 4, not {L}")
        if z2_symmetric and q != 2:
            raise ValueError("z2_symmetric needs binary spins")
        self.L, self.q, self.n_sites, self.z2_symmetric = L, q, L * L, z2_symmetric
        border = [c for c in range(L)] + [r * L for r in range(1, L)]  # row 0, then column 0
        self.register_buffer("border_sites", torch.tensor(border))
        self.border_net = MADE(len(border), q, depth=1)
        nets, levels = [], []
        squares, m = [(1, 1)], L - 1
        while m >= 1:
            index = [_square_sites(L, top, left, m) for top, left in squares]
            borders = torch.tensor([b for b, _ in index])
            crosses = torch.tensor([c for _, c in index])
            levels.append((borders, crosses))
            nets.append(ConditionalMADE(borders.shape[1], crosses.shape[1], q))
            half = (m - 1) // 2
            squares = [
                (top + dt, left + dl)
                for top, left in squares
                for dt in (0, half + 1)
                for dl in (0, half + 1)
            ]
            m = half
        self.level_nets = nn.ModuleList(nets)
        for number, (borders, crosses) in enumerate(levels):
            self.register_buffer(f"borders_{number}", borders)
            self.register_buffer(f"crosses_{number}", crosses)
        self.n_levels = len(levels)

    def _level(self, number: int):
        return getattr(self, f"borders_{number}"), getattr(self, f"crosses_{number}")

    def _log_q(self, spins: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(spins, self.q).float()
        border = one_hot[:, self.border_sites]
        log_probs = F.log_softmax(self.border_net(border), dim=1)
        total = log_probs.gather(1, spins[:, self.border_sites].unsqueeze(1)).sum((1, 2))
        n = len(spins)
        for number, net in enumerate(self.level_nets):
            borders, crosses = self._level(number)
            squares = len(borders)
            context = one_hot[:, borders].reshape(n * squares, *borders.shape[1:], self.q)
            cross_spins = spins[:, crosses].reshape(n * squares, -1)
            total = total + net.log_prob(cross_spins, context).view(n, -1).sum(1)
        return total

    def log_prob(self, spins: torch.Tensor) -> torch.Tensor:
        spins = spins.long().flatten(1)
        if not self.z2_symmetric:
            return self._log_q(spins)
        return torch.logaddexp(self._log_q(spins), self._log_q(1 - spins)) - math.log(2)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.border_sites.device
        spins = torch.zeros(n, self.n_sites, dtype=torch.long, device=device)
        spins[:, self.border_sites] = self.border_net.sample_incremental(n, generator)
        for number, net in enumerate(self.level_nets):
            borders, crosses = self._level(number)
            squares, length = crosses.shape
            context = F.one_hot(spins[:, borders], self.q).float().reshape(n * squares, -1)
            values = net.sample(context, generator)
            spins[:, crosses] = values.view(n, squares, length)
        if self.z2_symmetric:
            flip = torch.rand(n, generator=generator, device=device) < 0.5
            spins = torch.where(flip[:, None], 1 - spins, spins)
        return spins
