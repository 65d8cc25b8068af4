"""Autoregressive networks for discrete spins with exact log-probabilities (VAN).

Sites are ordered in raster order; q(s) = prod_i q(s_i | s_<i). Two conditionals:
- ``MADE``: masked dense layers (depth 1 is the one-layer VAN; deeper nets add masked
  hidden layers with the MADE degree construction);
- ``PixelCNN``: masked 2D convolutions (type A first, then type B), Wu, Wang and Zhang,
  PRL 122, 080602 (2019).
Both sample ancestrally, one site per pass. With ``z2_symmetric`` (binary spins) the model
is averaged over the global flip: q_s(s) = (q(s) + q(1 - s)) / 2, sampled by flipping a
sample of q with probability 1/2.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from physgen.models.noise import uniform

__all__ = [
    "MADE",
    "PixelCNN",
    "AutoregressiveSampler",
    "binary_log_q",
    "draw_binary",
    "fold_binary",
]


class _MaskedLinear(nn.Linear):
    def __init__(self, n_in: int, n_out: int, mask: torch.Tensor):
        super().__init__(n_in, n_out)
        self.register_buffer("mask", mask.float())

    def forward(self, x):
        return F.linear(x, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """Logits (batch, q, n_sites) of each site given the previous ones."""

    def __init__(self, n_sites: int, q: int = 2, depth: int = 1, width: int = 2):
        super().__init__()
        self.n_sites, self.q = n_sites, q
        degrees_in = torch.arange(n_sites).repeat_interleave(q)  # one-hot input units
        layers = []
        previous = degrees_in
        for _ in range(depth - 1):
            # hidden units of degree d see inputs of degree <= d (and feed outputs > d)
            hidden = torch.arange(n_sites).repeat_interleave(width)
            layers += [
                _MaskedLinear(len(previous), len(hidden), hidden[:, None] >= previous[None, :]),
                nn.PReLU(),
            ]
            previous = hidden
        degrees_out = torch.arange(n_sites).repeat_interleave(q)
        strict = degrees_out[:, None] > previous[None, :]
        layers.append(_MaskedLinear(len(previous), len(degrees_out), strict))
        self.net = nn.Sequential(*layers)

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        logits = self.net(one_hot.flatten(1))  # (batch, n_sites * q), ordered site-major
        return logits.view(len(one_hot), self.n_sites, self.q).transpose(1, 2)

    @property
    def is_linear(self) -> bool:
        return len(self.net) == 1

    def sample_incremental(
        self, n: int, generator=None, extra_bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Ancestral sampling of the one-layer (linear) MADE in O(n_sites^2) per sample:
        logits are updated with each drawn site instead of recomputed. ``extra_bias``
        (n, n_sites * q) is added to the output bias (a context, as in the HAN)."""
        layer = self.net[0]
        weight = layer.weight * layer.mask  # (n_sites * q out, n_sites * q in)
        bias = layer.bias.expand(n, -1)
        if extra_bias is not None:
            bias = bias + extra_bias
        uniforms = uniform(generator, (n, self.n_sites), weight.device)
        if self.q == 2:
            return self._sample_binary(weight, bias, uniforms)
        running = bias.clone()
        weight = weight.T
        spins = torch.zeros(n, self.n_sites, dtype=torch.long, device=weight.device)
        for site in range(self.n_sites):
            logits = running[:, site * self.q : (site + 1) * self.q]
            cdf = torch.cumsum(F.softmax(logits, dim=1), 1)
            drawn = (
                torch.searchsorted(cdf, uniforms[:, site : site + 1])
                .squeeze(1)
                .clamp_max(self.q - 1)
            )
            spins[:, site] = drawn
            running += weight[site * self.q + drawn]
        return spins

    def _sample_binary(self, weight, bias, uniforms) -> torch.Tensor:
        delta, offset = fold_binary(weight)
        return draw_binary(offset + bias[:, 1::2] - bias[:, 0::2], delta, uniforms)

    def folded_binary(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(delta, offset) of the one-layer binary MADE, its bias included (``fold_binary``)."""
        layer = self.net[0]
        delta, offset = fold_binary(layer.weight * layer.mask)
        return delta, offset + layer.bias[1::2] - layer.bias[0::2]

    def log_prob_bits(self, bits: torch.Tensor, flipped: bool = False):
        """``binary_log_q`` of the one-layer binary MADE (bits: (batch, n_sites) 0/1)."""
        return binary_log_q(bits, bits, *self.folded_binary(), flipped)


def fold_binary(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (n_out * 2, n_in * 2) on one-hot inputs of binary sites -> (delta, offset)
    with z_1 - z_0 = offset + bits @ delta.T for the logit difference of each output site
    (bias excluded): only differences matter for binary spins, and they are affine in the
    0/1 bits, so the folded weights have half the width."""
    w = weight.view(weight.shape[0] // 2, 2, weight.shape[1] // 2, 2)
    delta = (w[:, 1, :, 1] - w[:, 1, :, 0]) - (w[:, 0, :, 1] - w[:, 0, :, 0])
    return delta, (w[:, 1, :, 0] - w[:, 0, :, 0]).sum(1)


def binary_log_q(values, inputs, delta, offset, flipped: bool = False, extra=(0, 0)):
    """sum_j log sigmoid(+-d_j) for logit differences d = offset + inputs @ delta.T; with
    ``flipped`` also the same for the globally flipped configuration (1 - values, 1 - inputs),
    from the same product (d is affine: d(1 - x) = offset + delta.sum(1) - x @ delta.T).
    ``extra``: non-affine terms added to d of (values, flipped values), e.g. a hidden layer."""
    product = F.linear(inputs.to(delta.dtype), delta)
    sign = (2 * values - 1).to(delta.dtype)
    log_q = F.logsigmoid(sign * (product + offset + extra[0])).sum(1)
    if not flipped:
        return log_q
    return log_q, F.logsigmoid(sign * (product - offset - delta.sum(1) - extra[1])).sum(1)


def draw_binary(logits, delta, uniforms, block: int = 32, hidden=None) -> torch.Tensor:
    """Ancestral draw of binary sites whose logit difference d_j = z_j1 - z_j0 is affine in
    the drawn bits: d = logits + bits @ delta.T, delta (n_sites, n_sites) strictly lower
    triangular. Sites are drawn in blocks: one rank-1 update per site inside the block, one
    matmul for the sites after it, so the cost is matmuls rather than n_sites full passes.

    ``hidden`` = (h, values, out, activation, width) adds a masked hidden layer to d: h
    (batch, n_sites * width) the pre-activations before any site is drawn, values
    (n_sites * width, n_sites) and out (n_sites, n_sites * width) the masked weights; unit u
    has degree u // width. A block's units are complete once the block is drawn: one matmul
    then adds them to the logits after it."""
    logits = logits.clone()
    if hidden is not None:
        h, values, out, activation, width = hidden
        h = h.clone()
    n_sites = logits.shape[1]
    bits = torch.zeros_like(logits)
    for start in range(0, n_sites, block):
        stop = min(start + block, n_sites)
        for site in range(start, stop):
            d = logits[:, site]
            if hidden is not None and site > start:  # complete units of the block's earlier sites
                first, unit = start * width, site * width
                d = d + activation(h[:, first:unit]) @ out[site, first:unit]
            drawn = (uniforms[:, site] < torch.sigmoid(d)).to(logits.dtype)
            bits[:, site] = drawn
            logits[:, site + 1 : stop] += drawn[:, None] * delta[site + 1 : stop, site]
            if hidden is not None:
                units = slice(site * width, stop * width)
                h[:, units] += drawn[:, None] * values[units, site]
        if stop < n_sites:
            drawn = bits[:, start:stop]
            logits[:, stop:] += drawn @ delta[stop:, start:stop].T
            if hidden is not None:
                first, last = start * width, stop * width
                logits[:, stop:] += activation(h[:, first:last]) @ out[stop:, first:last].T
                h[:, last:] += drawn @ values[last:, start:stop].T
    return bits.long()


class _MaskedConv2d(nn.Conv2d):
    def __init__(self, n_in, n_out, kernel: int, exclusive: bool):
        super().__init__(n_in, n_out, kernel, padding=kernel // 2)
        mask = torch.ones_like(self.weight)
        centre = kernel // 2
        mask[:, :, centre, centre + (0 if exclusive else 1) :] = 0
        mask[:, :, centre + 1 :, :] = 0
        self.register_buffer("mask", mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PixelCNN(nn.Module):
    """Logits (batch, q, L*L) from masked convolutions over the (batch, q, L, L) one-hot."""

    def __init__(self, L: int, q: int = 2, depth: int = 3, width: int = 16, kernel: int = 5):
        super().__init__()
        self.L, self.q, self.n_sites = L, q, L * L
        layers = [_MaskedConv2d(q, width if depth > 1 else q, kernel, exclusive=True)]
        for index in range(1, depth):
            layers += [
                nn.PReLU(),
                _MaskedConv2d(width, q if index == depth - 1 else width, kernel, exclusive=False),
            ]
        self.net = nn.Sequential(*layers)

    def forward(self, one_hot: torch.Tensor) -> torch.Tensor:
        image = one_hot.view(len(one_hot), self.L, self.L, self.q).permute(0, 3, 1, 2)
        return self.net(image).flatten(2)


class AutoregressiveSampler(nn.Module):
    """Exact log q(s) and ancestral sampling over spins s in {0..q-1}^n_sites."""

    def __init__(self, conditional: nn.Module, z2_symmetric: bool = False):
        super().__init__()
        self.conditional = conditional
        self.n_sites, self.q = conditional.n_sites, conditional.q
        if z2_symmetric and self.q != 2:
            raise ValueError("z2_symmetric needs binary spins")
        self.z2_symmetric = z2_symmetric

    def _log_q(self, spins: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(spins, self.q).float()
        log_probs = F.log_softmax(self.conditional(one_hot), dim=1)  # (batch, q, n_sites)
        return log_probs.gather(1, spins.unsqueeze(1)).squeeze(1).sum(1)

    def log_prob(self, spins: torch.Tensor) -> torch.Tensor:
        """log q(s) for (batch, n_sites) integer spins."""
        spins = spins.long().flatten(1)
        if not self.z2_symmetric:
            return self._log_q(spins)
        if getattr(self.conditional, "is_linear", False):  # binary: one product for both
            return torch.logaddexp(*self.conditional.log_prob_bits(spins, True)) - math.log(2)
        return torch.logaddexp(self._log_q(spins), self._log_q(1 - spins)) - math.log(2)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.parameters()).device
        if getattr(self.conditional, "is_linear", False):
            spins = self.conditional.sample_incremental(n, generator)
        else:
            spins = torch.zeros(n, self.n_sites, dtype=torch.long, device=device)
            one_hot = torch.zeros(n, self.n_sites, self.q, device=device)
            for site in range(self.n_sites):
                logits = self.conditional(one_hot)[:, :, site]
                cdf = torch.cumsum(F.softmax(logits, dim=1), 1)
                u = uniform(generator, (n, 1), device)
                drawn = torch.searchsorted(cdf, u).squeeze(1).clamp_max(self.q - 1)
                spins[:, site] = drawn
                one_hot[:, site] = F.one_hot(drawn, self.q).float()
        if self.z2_symmetric:
            flip = uniform(generator, (n,), device) < 0.5
            spins = torch.where(flip[:, None], 1 - spins, spins)
        return spins
