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

from physgen.models.autoregressive import MADE, binary_log_q, draw_binary, fold_binary
from physgen.models.noise import uniform

__all__ = [
    "ConditionalMADE",
    "HierarchicalSampler",
    "HierarchicalStripSampler",
]


class ConditionalMADE(nn.Module):
    """Logits (batch, q, n_sites) of each site given the previous ones and a visible context
    (a one-layer VAN whose bias depends linearly on the context's one-hot). Binary nets may add
    ``hidden`` masked hidden units per site (MADE degrees: a unit of site d sees the sites
    <= d and the whole context, and feeds the logits of the sites > d), whose output adds to
    the logit difference: conditionals that are not logistic-linear in the context."""

    def __init__(self, n_context: int, n_sites: int, q: int = 2, hidden: int = 0):
        super().__init__()
        self.n_sites, self.q, self.hidden = n_sites, q, hidden
        self.made = MADE(n_sites, q, depth=1)
        self.context = nn.Linear(n_context * q, n_sites * q, bias=False)
        nn.init.zeros_(self.context.weight)
        if hidden:
            if q != 2:
                raise ValueError("hidden units in the conditional nets need binary spins")
            sites = torch.arange(n_sites)
            degrees = sites.repeat_interleave(hidden)
            self.register_buffer("in_mask", (degrees[:, None] >= sites[None, :]).float())
            self.register_buffer("out_mask", (sites[:, None] > degrees[None, :]).float())
            self.hidden_in = nn.Linear(n_sites + n_context, len(degrees))
            self.activation = nn.PReLU()
            self.hidden_out = nn.Linear(len(degrees), n_sites, bias=False)
            nn.init.zeros_(self.hidden_out.weight)  # starts as the linear conditional

    def forward(self, one_hot: torch.Tensor, context_one_hot: torch.Tensor) -> torch.Tensor:
        if self.hidden:
            raise NotImplementedError("hidden units: use log_prob_bits / sample_bits")
        shift = self.context(context_one_hot.flatten(1)).view(-1, self.n_sites, self.q)
        return self.made(one_hot) + shift.transpose(1, 2)

    def log_prob(self, values: torch.Tensor, context_one_hot: torch.Tensor) -> torch.Tensor:
        """log q(values | context) for (batch, n_sites) integer values."""
        logits = self(F.one_hot(values, self.q).float(), context_one_hot)
        return F.log_softmax(logits, dim=1).gather(1, values.unsqueeze(1)).squeeze(1).sum(1)

    def log_prob_bits(self, values: torch.Tensor, context_bits: torch.Tensor, flipped=False):
        """log q(values | context) of binary spins from 0/1 bits, the one-hot weights folded
        into half-width ones (same model, half the cost of ``log_prob``); with ``flipped``
        also log q(1 - values | 1 - context) (see ``binary_log_q``)."""
        weight, offset = self._binary_weights()
        inputs = torch.cat([values, context_bits], dim=1)
        extra = (0, 0)
        if self.hidden:
            weights = self._hidden_weights()  # masked once for both directions
            flip = self._hidden_logits(1 - inputs, weights) if flipped else 0
            extra = (self._hidden_logits(inputs, weights), flip)
        return binary_log_q(values, inputs, weight, offset, flipped, extra)

    def _binary_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        made, made_offset = self.made.folded_binary()
        context, context_offset = fold_binary(self.context.weight)
        return torch.cat([made, context], dim=1), made_offset + context_offset

    def _hidden_weights(self):
        weight = self.hidden_in.weight
        values = weight[:, : self.n_sites] * self.in_mask
        return values, weight[:, self.n_sites :], self.hidden_out.weight * self.out_mask

    def _hidden_logits(self, inputs: torch.Tensor, weights=None) -> torch.Tensor:
        values, context, out = weights or self._hidden_weights()
        bits = inputs.to(values.dtype)
        h = F.linear(bits[:, : self.n_sites], values) + F.linear(bits[:, self.n_sites :], context)
        return F.linear(self.activation(h + self.hidden_in.bias), out)

    @torch.no_grad()
    def sample_bits(self, context_bits: torch.Tensor, generator=None) -> torch.Tensor:
        """One draw (batch, n_sites) of binary spins per row of 0/1 context bits."""
        weight, offset = self._binary_weights()
        context_bits = context_bits.to(weight.dtype)
        logits = F.linear(context_bits, weight[:, self.n_sites :], offset)
        uniforms = uniform(generator, logits.shape, logits.device)
        if not self.hidden:
            return draw_binary(logits, weight[:, : self.n_sites], uniforms)
        values, context, out = self._hidden_weights()
        h = F.linear(context_bits, context, self.hidden_in.bias)
        hidden = (h, values, out, self.activation, self.hidden)
        return draw_binary(logits, weight[:, : self.n_sites], uniforms, hidden=hidden)

    @torch.no_grad()
    def sample(self, context_one_hot: torch.Tensor, generator=None) -> torch.Tensor:
        """One draw (batch, n_sites) per context row."""
        shift = self.context(context_one_hot.flatten(1))
        return self.made.sample_incremental(len(shift), generator, shift)


def _square_sites(
    L: int, top: int, left: int, m: int, rows: int | None = None
) -> tuple[list[int], list[int]]:
    """(border, cross) cell indices of the m x m square at (top, left) of a grid of ``rows``
    (default L) rows and L periodic columns, in a fixed relative order (the same for every
    square of that size)."""
    rows = rows or L

    def site(row, col):
        return (row % rows) * L + (col % L)

    border = [site(top - 1, left - 1 + k) for k in range(m + 2)]
    border += [site(top + m, left - 1 + k) for k in range(m + 2)]
    border += [site(top + k, left - 1) for k in range(m)]
    border += [site(top + k, left + m) for k in range(m)]
    half = (m - 1) // 2
    cross = [site(top + half, left + k) for k in range(m)]
    cross += [site(top + k, left + half) for k in range(m) if k != half]
    return border, cross


def _square_levels(L: int, squares: list[tuple[int, int]], m: int, rows: int | None = None):
    """(borders, crosses) of each level: the squares of side m, then of (m - 1) / 2, ... 1."""
    levels = []
    while m >= 1:
        index = [_square_sites(L, top, left, m, rows) for top, left in squares]
        levels.append(([b for b, _ in index], [c for _, c in index]))
        half = (m - 1) // 2
        squares = [
            (top + dt, left + dl)
            for top, left in squares
            for dt in (0, half + 1)
            for dl in (0, half + 1)
        ]
        m = half
    return levels


class _ConditionalStages(nn.Module):
    """Groups of cells generated stage after stage: a stage's groups share one conditional
    one-layer VAN, each group conditioned on cells fixed before it (earlier stages or given)."""

    def _set_stages(
        self, stages: list[tuple[list, list]], q: int, hidden: int = 0, hidden_min_sites: int = 0
    ) -> None:
        """``hidden`` units per site in the nets of groups of >= ``hidden_min_sites`` sites."""
        nets = []
        for number, (contexts, targets) in enumerate(stages):
            contexts, targets = torch.tensor(contexts), torch.tensor(targets)
            self.register_buffer(f"contexts_{number}", contexts)
            self.register_buffer(f"targets_{number}", targets)
            units = hidden if targets.shape[1] >= hidden_min_sites else 0
            nets.append(ConditionalMADE(contexts.shape[1], targets.shape[1], q, units))
        self.stage_nets = nn.ModuleList(nets)

    def _stage(self, number: int):
        return getattr(self, f"contexts_{number}"), getattr(self, f"targets_{number}")

    def _stages_log_q(self, cells: torch.Tensor, flipped: bool = False):
        """Sum of the stages' log q; binary with ``flipped``: (log q(cells), log q(1 - cells))."""
        n, total = len(cells), 0
        for number, net in enumerate(self.stage_nets):
            contexts, targets = self._stage(number)
            groups = len(contexts)
            context = cells[:, contexts].reshape(n * groups, -1)
            values = cells[:, targets].reshape(n * groups, -1)
            if self.q == 2:
                log_q = net.log_prob_bits(values, context, flipped)
            else:
                log_q = net.log_prob(values, F.one_hot(context, self.q).float())
            if flipped:
                total = total + torch.stack(log_q).view(2, n, -1).sum(2)
            else:
                total = total + log_q.view(n, -1).sum(1)
        return total

    def _stages_sample(self, cells: torch.Tensor, generator) -> torch.Tensor:
        n = len(cells)
        for number, net in enumerate(self.stage_nets):
            contexts, targets = self._stage(number)
            groups, length = targets.shape
            context = cells[:, contexts].reshape(n * groups, -1)
            if self.q == 2:
                drawn = net.sample_bits(context, generator)
            else:
                drawn = net.sample(F.one_hot(context, self.q).float(), generator)
            cells[:, targets] = drawn.view(n, groups, length)
        return cells


class HierarchicalSampler(_ConditionalStages):
    """HAN over (batch, L*L) spins in {0..q-1}; the interface of ``AutoregressiveSampler``."""

    def __init__(
        self,
        L: int,
        q: int = 2,
        z2_symmetric: bool = False,
        hidden: int = 0,
        hidden_min_sites: int = 13,
    ):
        """``hidden`` > 0 (binary): that many hidden units per site in the conditional nets of
        the crosses of >= ``hidden_min_sites`` sites (default: squares of side >= 7; a single
        site given its neighbours is exactly logistic-linear, and the 5-site crosses are many
        and small)."""
        super().__init__()
        if L < 4 or L & (L - 1):
            raise ValueError(f"HAN needs L a power of two >= 4, not {L}")
        if z2_symmetric and q != 2:
            raise ValueError("z2_symmetric needs binary spins")
        self.L, self.q, self.n_sites, self.z2_symmetric = L, q, L * L, z2_symmetric
        border = [c for c in range(L)] + [r * L for r in range(1, L)]  # row 0, then column 0
        self.register_buffer("border_sites", torch.tensor(border))
        self.border_net = MADE(len(border), q, depth=1)
        self._set_stages(_square_levels(L, [(1, 1)], L - 1), q, hidden, hidden_min_sites)

    def _log_q(self, spins: torch.Tensor) -> torch.Tensor:
        border = F.one_hot(spins[:, self.border_sites], self.q).float()
        log_probs = F.log_softmax(self.border_net(border), dim=1)
        total = log_probs.gather(1, spins[:, self.border_sites].unsqueeze(1)).sum((1, 2))
        return total + self._stages_log_q(spins)

    def log_prob(self, spins: torch.Tensor) -> torch.Tensor:
        spins = spins.long().flatten(1)
        if not self.z2_symmetric:
            return self._log_q(spins)
        # one pass gives log q(s) and log q(1 - s): binary logit differences are affine
        border = self.border_net.log_prob_bits(spins[:, self.border_sites], flipped=True)
        both = torch.stack(border) + self._stages_log_q(spins, flipped=True)
        return torch.logaddexp(both[0], both[1]) - math.log(2)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.border_sites.device
        spins = torch.zeros(n, self.n_sites, dtype=torch.long, device=device)
        spins[:, self.border_sites] = self.border_net.sample_incremental(n, generator)
        spins = self._stages_sample(spins, generator)
        if self.z2_symmetric:
            flip = uniform(generator, (n,), device) < 0.5
            spins = torch.where(flip[:, None], 1 - spins, spins)
        return spins


class HierarchicalStripSampler(_ConditionalStages):
    """q(strip | x, y) for an H x L strip (H = L / 2, periodic along its rows) between two
    given rows: y above its first row and x below its last, L a power of two >= 4.

    Cells are an (H + 2) x L grid: row 0 = y, rows 1..H the strip, row H + 1 = x. Stages:
    the strip's column 0, then its first row, then the middle column of the (H - 1) x (L - 1)
    rectangle left, which leaves two squares of side H - 1 enclosed by known cells; these are
    filled level by level as in the HAN. Boundary bits are (x, y), 2 L values."""

    def __init__(self, L: int, q: int = 2):
        super().__init__()
        if L < 4 or L & (L - 1):
            raise ValueError(f"the hierarchical strip needs L a power of two >= 4, not {L}")
        self.L, self.q, self.H = L, q, L // 2
        H, rows = self.H, L // 2 + 2
        self.n_sites, self.n_context = H * L, 2 * L
        x_row, y_row = [(H + 1) * L + c for c in range(L)], list(range(L))
        column = [r * L for r in range(1, H + 1)]
        first_row = [L + c for c in range(1, L)]
        middle = [r * L + L // 2 for r in range(2, H + 1)]
        rectangle = [L + c for c in range(L)] + x_row + [r * L for r in range(2, H + 1)]
        stages = [
            ([x_row + y_row], [column]),
            ([x_row + y_row + column], [first_row]),
            ([rectangle], [middle]),
        ]
        squares = [(2, 1), (2, L // 2 + 1)]
        self._set_stages(stages + _square_levels(L, squares, H - 1, rows), q)
        self.register_buffer("strip_cells", torch.arange(L, (H + 1) * L))
        self.register_buffer("boundary_cells", torch.tensor(x_row + y_row))

    def _cells(self, boundary: torch.Tensor, strip: torch.Tensor | None = None) -> torch.Tensor:
        cells = torch.zeros(len(boundary), (self.H + 2) * self.L, dtype=torch.long)
        cells = cells.to(boundary.device)
        cells[:, self.boundary_cells] = boundary.long()
        if strip is not None:
            cells[:, self.strip_cells] = strip.long()
        return cells

    def log_prob_strip(self, bits: torch.Tensor, boundary_bits: torch.Tensor) -> torch.Tensor:
        """log q(strip | x, y) for (n, H * L) strip bits and (n, 2 L) boundary bits."""
        return self._stages_log_q(self._cells(boundary_bits, bits))

    @torch.no_grad()
    def sample_strip(self, boundary_bits: torch.Tensor, generator=None) -> torch.Tensor:
        cells = self._stages_sample(self._cells(boundary_bits), generator)
        return cells[:, self.strip_cells]
