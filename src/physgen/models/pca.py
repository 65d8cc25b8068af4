"""Probabilistic PCA as a fitted linear autoencoder for generative models in a latent space.

``fit`` finds the k leading principal directions of the data; ``encode`` gives whitened
coefficients (unit variance each), which a generative model learns; ``decode`` maps
coefficients back and fills the discarded directions with independent Gaussian noise of the
measured per-feature residual variance (Tipping & Bishop's probabilistic PCA with a diagonal
residual), so decoded samples keep the data's small-scale fluctuations instead of the too-smooth
reconstruction. Everything lives in buffers: ``state_dict`` carries the fitted basis.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ProbabilisticPCA"]


class ProbabilisticPCA(nn.Module):
    def __init__(self, features: int, components: int):
        super().__init__()
        k = min(components, features)
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("components", torch.zeros(k, features))
        self.register_buffer("scale", torch.ones(k))
        self.register_buffer("residual_std", torch.zeros(features))

    @property
    def n_components(self) -> int:
        return len(self.scale)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, seed: int = 0) -> float:
        """Fit on rows of ``x``; returns the fraction of the total variance explained."""
        k = self.n_components
        if k > min(x.shape):
            raise ValueError(f"{k} components need at least {k} rows and features")
        mean = x.mean(0)
        torch.manual_seed(seed)  # svd_lowrank draws a random projection
        _, _, v = torch.svd_lowrank(x - mean, q=min(k + 10, min(x.shape)), niter=4)
        components = v[:, :k].T.contiguous()
        coefficients = (x - mean) @ components.T
        residual = x - mean - coefficients @ components
        self.mean.copy_(mean)
        self.components.copy_(components)
        self.scale.copy_(coefficients.std(0).clamp_min(1e-6))
        self.residual_std.copy_(residual.std(0))
        return float(1 - residual.var(0).sum() / x.var(0).sum())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Whitened coefficients of the leading components, one row per row of ``x``."""
        return (x - self.mean) @ self.components.T / self.scale

    def decode(self, z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Rows in data space for whitened coefficients ``z``, plus residual noise (none when
        ``generator`` is None: the mean reconstruction)."""
        x = self.mean + (z * self.scale) @ self.components
        if generator is None:
            return x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.residual_std * noise
