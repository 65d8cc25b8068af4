"""Invertible element-wise preprocessing with log-determinants, saved with the model.

Each transform maps x -> y with ``forward(x) -> (y, log|dy/dx| summed over features)`` and
``inverse(y) -> x``; parameters live in buffers so ``state_dict`` carries them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Standardize", "Logit", "Log", "MarginalGaussianize", "Chain"]


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
        return (x - self.mean) / self.std, (-torch.log(self.std)).sum().expand(len(x))

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
        return (torch.sigmoid(y) - self.alpha) / (1 - 2 * self.alpha)


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
    Outside the fitted range x is clamped to it (and the log-determinant holds inside)."""

    def __init__(self, features: int, knots: int = 128):
        super().__init__()
        self.register_buffer("quantiles", torch.linspace(0, 1, knots).repeat(features, 1))
        self.register_buffer("tail", torch.tensor(1e-3))  # CDF values are kept in [tail, 1-tail]

    def fit(self, x: torch.Tensor) -> MarginalGaussianize:
        knots = self.quantiles.shape[1]
        probabilities = torch.linspace(0, 1, knots, dtype=x.dtype, device=x.device)
        quantiles = torch.quantile(x, probabilities, dim=0).T
        # strictly increasing knots: ties (a repeated value) get a negligible width
        widths = (quantiles.diff(dim=1)).clamp_min(1e-6 * (quantiles.abs().amax(1, True) + 1))
        self.quantiles.copy_(torch.cat([quantiles[:, :1], quantiles[:, :1] + widths.cumsum(1)], 1))
        self.tail.fill_(0.5 / len(x))
        return self

    def _cdf(self, x):
        knots = self.quantiles.shape[1]
        xt = x.T.contiguous()
        upper = torch.searchsorted(self.quantiles, xt).clamp(1, knots - 1)
        x_lo, x_hi = self.quantiles.gather(1, upper - 1), self.quantiles.gather(1, upper)
        fraction = ((xt - x_lo) / (x_hi - x_lo)).clamp(0, 1)
        cdf = ((upper - 1) + fraction) / (knots - 1)
        return cdf.T, (1 / ((knots - 1) * (x_hi - x_lo))).T

    def forward(self, x):
        cdf, density = self._cdf(x)
        cdf = cdf.clamp(self.tail, 1 - self.tail)
        y = math.sqrt(2) * torch.erfinv(2 * cdf - 1)
        ladj = torch.log(density) + 0.5 * y**2 + 0.5 * math.log(2 * math.pi)
        return y, ladj.sum(-1)

    def inverse(self, y):
        knots = self.quantiles.shape[1]
        position = (0.5 * (1 + torch.erf(y / math.sqrt(2)))).T.contiguous() * (knots - 1)
        lower = position.floor().clamp(0, knots - 2).long()
        x_lo, x_hi = self.quantiles.gather(1, lower), self.quantiles.gather(1, lower + 1)
        fraction = (position - lower).clamp(0, 1)
        return (x_lo + fraction * (x_hi - x_lo)).T


class Chain(nn.Module):
    """Transforms applied in order; log-determinants add up."""

    def __init__(self, *transforms: nn.Module):
        super().__init__()
        self.transforms = nn.ModuleList(transforms)

    def forward(self, x):
        total = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        for transform in self.transforms:
            x, ladj = transform(x)
            total = total + ladj
        return x, total

    def inverse(self, y):
        for transform in reversed(self.transforms):
            y = transform.inverse(y)
        return y
