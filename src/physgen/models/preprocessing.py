"""Invertible element-wise preprocessing with log-determinants, saved with the model.

Each transform maps x -> y with ``forward(x) -> (y, log|dy/dx| summed over features)`` and
``inverse(y) -> x``; parameters live in buffers so ``state_dict`` carries them.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Standardize", "Logit", "Log", "Chain"]


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
