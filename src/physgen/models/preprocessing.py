"""Invertible element-wise preprocessing with log-determinants, saved with the model.

Each transform maps x -> y with ``forward(x) -> (y, log|dy/dx| summed over features)`` and
``inverse(y) -> x``; parameters live in buffers so ``state_dict`` carries them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Standardize", "Logit", "Probit", "Log", "MarginalGaussianize", "Chain"]


class Standardize(nn.Module):
    """y = (x - mean) / std, with mean and std fitted on data."""

    def __init__(self, features: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("std", torch.ones(features))

    def fit(self, x: torch.Tensor) -> Standardize:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))
        return self

    def forward(self, x):
        return (x - self.mean) / self.std, (-torch.log(self.std)).sum().expand(x.shape[0])

    def inverse(self, y):
        return y * self.std + self.mean


class Logit(nn.Module):
    """y = logit(alpha + (1 - 2 alpha) x) for x in [0, 1]."""

    def __init__(self, alpha: float = 1e-6):
        super().__init__()
        self.register_buffer("alpha", torch.tensor(float(alpha)))

    def forward(self, x):
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.log(p) - torch.log1p(-p)
        ladj = torch.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)
        return y, ladj.sum(-1)

    def inverse(self, y):
        # 1 / (1 + e^-y) rather than torch.sigmoid: ONNX Runtime's Sigmoid is accurate only in
        # absolute terms, and small shape fractions times a large layer energy showed it
        # (relative errors of 1e-3 in 1 MeV voxels of an exported model); Exp is not
        sigmoid = torch.reciprocal(1 + torch.exp(-y))
        return (sigmoid - self.alpha) / (1 - 2 * self.alpha)


class Probit(nn.Module):
    """y = Phi^-1(alpha + (1 - 2 alpha) x) for x in [0, 1]: a uniform x becomes exactly a
    standard normal y, so a flow with a Gaussian latent starts as the uniform density (the
    logit's logistic tails would give heavy importance weights instead)."""

    def __init__(self, alpha: float = 1e-9):
        super().__init__()
        self.register_buffer("alpha", torch.tensor(float(alpha)))

    def forward(self, x):
        p = self.alpha + (1 - 2 * self.alpha) * x
        y = torch.special.ndtri(p)
        log_phi = -0.5 * y**2 - 0.5 * math.log(2 * math.pi)
        return y, (torch.log(1 - 2 * self.alpha) - log_phi).sum(-1)

    def inverse(self, y):
        return (torch.special.ndtr(y) - self.alpha) / (1 - 2 * self.alpha)


class Log(nn.Module):
    """y = log(x + eps) for x >= 0."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.register_buffer("eps", torch.tensor(float(eps)))

    def forward(self, x):
        y = torch.log(x + self.eps)
        return y, (-y).sum(-1)

    def inverse(self, y):
        return torch.exp(y) - self.eps


class MarginalGaussianize(nn.Module):
    """y = Phi^-1(F(x)) per feature, F the empirical CDF of the fitted data, piecewise linear
    between ``knots`` quantiles (the minimum and maximum included). Every feature of the fitted
    data comes out standard normal whatever its shape (a spike of empty voxels beside a
    log-normal bump, say), so Gaussian noise added in y (probabilistic PCA) keeps each
    feature's marginal distribution; the Gaussian copula then carries the correlations.
    Outside the fitted range x is clamped to it (and the log-determinant holds inside).

    With ``bins`` > 1, F is F(x | c) for a scalar condition c: one table per bin of equal
    counts of the fitted c, so y is standard normal at every c (not only on average over
    c), and noise added in y keeps, say, each voxel's occupancy at each incident energy."""

    takes_condition = True

    def __init__(self, features: int, knots: int = 128, bins: int = 1):
        super().__init__()
        table = torch.linspace(0, 1, knots).repeat(bins, features, 1)
        self.register_buffer("quantiles", table)  # (bins, features, knots)
        self.register_buffer("edges", torch.zeros(bins - 1))  # of the condition, between bins
        self.register_buffer("tail", torch.tensor(1e-3))  # CDF values are kept in [tail, 1-tail]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # files written before the binned tables: one (features, knots) table, no edges
        quantiles = state_dict.get(prefix + "quantiles")
        if quantiles is not None and quantiles.ndim == 2:
            state_dict[prefix + "quantiles"] = quantiles.unsqueeze(0)
            state_dict.setdefault(prefix + "edges", torch.zeros(0))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _bins(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        if len(self.edges) == 0:
            return torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        if condition is None or condition.numel() != x.shape[0]:
            raise ValueError("this MarginalGaussianize is binned: it needs one condition per row")
        return torch.bucketize(condition.reshape(-1).to(self.edges.dtype), self.edges)

    def fit(self, x: torch.Tensor, condition: torch.Tensor | None = None) -> MarginalGaussianize:
        bins, _, knots = self.quantiles.shape
        if bins > 1:
            if condition is None:
                raise ValueError(f"fitting {bins} bins needs a condition")
            cuts = torch.linspace(0, 1, bins + 1, dtype=x.dtype, device=x.device)[1:-1]
            self.edges.copy_(torch.quantile(condition.reshape(-1).to(x.dtype), cuts))
        rows = self._bins(x, condition)
        probabilities = torch.linspace(0, 1, knots, dtype=x.dtype, device=x.device)
        for b in range(bins):
            quantiles = torch.quantile(x[rows == b], probabilities, dim=0).T
            # strictly increasing knots: ties (a repeated value) get a negligible width
            scale = 1e-6 * (quantiles.abs().amax(1, True) + 1)
            widths = quantiles.diff(dim=1).clamp_min(scale)
            table = torch.cat([quantiles[:, :1], quantiles[:, :1] + widths.cumsum(1)], 1)
            self.quantiles[b].copy_(table)
        self.tail.fill_(0.5 / int(torch.bincount(rows, minlength=bins).min()))
        return self

    def _per_bin(self, function, x, condition):
        """Apply ``function(rows of x, table)`` bin by bin; results in the rows' order."""
        rows = self._bins(x, condition)
        if len(self.quantiles) == 1:
            return function(x, self.quantiles[0])
        parts = [(rows == b).nonzero().squeeze(1) for b in range(len(self.quantiles))]
        results = [function(x[index], self.quantiles[b]) for b, index in enumerate(parts)]
        order = torch.cat(parts).argsort()
        return tuple(torch.cat(r)[order] for r in zip(*results, strict=True))

    @staticmethod
    def _forward(x, quantiles):
        knots = quantiles.shape[1]
        xt = x.T.contiguous()
        upper = torch.searchsorted(quantiles, xt).clamp(1, knots - 1)
        x_lo, x_hi = quantiles.gather(1, upper - 1), quantiles.gather(1, upper)
        fraction = ((xt - x_lo) / (x_hi - x_lo)).clamp(0, 1)
        cdf = ((upper - 1) + fraction) / (knots - 1)
        return cdf.T, (1 / ((knots - 1) * (x_hi - x_lo))).T

    @staticmethod
    def _inverse(y, quantiles):
        knots = quantiles.shape[1]
        position = (0.5 * (1 + torch.erf(y / math.sqrt(2)))).T.contiguous() * (knots - 1)
        lower = position.floor().clamp(0, knots - 2).long()
        x_lo, x_hi = quantiles.gather(1, lower), quantiles.gather(1, lower + 1)
        fraction = (position - lower).clamp(0, 1)
        return ((x_lo + fraction * (x_hi - x_lo)).T,)

    def forward(self, x, condition=None):
        cdf, density = self._per_bin(self._forward, x, condition)
        cdf = cdf.clamp(self.tail, 1 - self.tail)
        y = math.sqrt(2) * torch.erfinv(2 * cdf - 1)
        ladj = torch.log(density) + 0.5 * y**2 + 0.5 * math.log(2 * math.pi)
        return y, ladj.sum(-1)

    def inverse(self, y, condition=None):
        return self._per_bin(self._inverse, y, condition)[0]


class Chain(nn.Module):
    """Transforms applied in order; log-determinants add up. A ``condition`` goes to the
    transforms that take one (``takes_condition``)."""

    def __init__(self, *transforms: nn.Module):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    @staticmethod
    def _arguments(transform, condition):
        return (condition,) if getattr(transform, "takes_condition", False) else ()

    @torch.no_grad()
    def fit(self, x, condition=None) -> Chain:
        """Fit each transform that has a ``fit`` on the output of those before it."""
        for i, transform in enumerate(self.transforms):
            if hasattr(transform, "fit"):
                transform.fit(x, *self._arguments(transform, condition))
            if i + 1 < len(self.transforms):
                x = transform(x, *self._arguments(transform, condition))[0]
        return self

    def forward(self, x, condition=None):
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        for transform in self.transforms:
            x, ladj = transform(x, *self._arguments(transform, condition))
            total = total + ladj
        return x, total

    def inverse(self, y, condition=None):
        for transform in reversed(self.transforms):
            y = transform.inverse(y, *self._arguments(transform, condition))
        return y
