"""Probabilistic PCA as a fitted linear autoencoder for generative models in a latent space.

``fit`` finds the k leading principal directions of the data; ``encode`` gives whitened
coefficients (unit variance each), which a generative model learns; ``decode`` maps
coefficients back and fills the discarded directions with independent Gaussian noise of the
measured per-feature residual variance (Tipping & Bishop's probabilistic PCA with a diagonal
residual), so decoded samples keep the data's small-scale fluctuations instead of the too-smooth
reconstruction. With ``conditions`` > 0 the residual's mean and variance are linear in a
condition vector (fitted by least squares; e.g. the log incident energy, on which the share of
empty calorimeter voxels depends). Everything lives in buffers: ``state_dict`` carries the fit.
"""

from __future__ import annotations

import torch
from torch import nn

from physgen.models.noise import NoiseSource, normal

__all__ = ["ProbabilisticPCA"]


def _least_squares(design: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """argmin_B |design B - targets| for a design of a few columns, by the normal equations in
    float64: the same bits on every run (LAPACK's lstsq drivers gave run-to-run differences)."""
    d = design.double()
    solution = torch.linalg.solve(d.T @ d, d.T @ targets.double())
    return solution.to(targets.dtype)


class ProbabilisticPCA(nn.Module):
    def __init__(self, features: int, components: int, conditions: int = 0):
        super().__init__()
        k = min(components, features)
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("components", torch.zeros(k, features))
        self.register_buffer("scale", torch.ones(k))
        # rows: intercept, then one slope per condition
        self.register_buffer("residual_mean", torch.zeros(conditions + 1, features))
        self.register_buffer("residual_var", torch.zeros(conditions + 1, features))

    @property
    def n_components(self) -> int:
        return len(self.scale)

    def _design(self, condition: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
        """Rows (1, condition...) for the residual's linear model; one row (broadcast) when
        the residual has no condition."""
        conditions = len(self.residual_mean) - 1
        if conditions == 0:
            return torch.ones(1, 1, dtype=like.dtype, device=like.device)
        if condition is None or condition.ndim != 2 or condition.shape[1] != conditions:
            raise ValueError(f"this PCA's residual needs a condition of shape (n, {conditions})")
        ones = torch.ones(condition.shape[0], 1, dtype=like.dtype, device=like.device)
        return torch.cat([ones, condition.to(like.dtype)], 1)

    @torch.no_grad()
    def fit(self, x: torch.Tensor, seed: int = 0, condition: torch.Tensor | None = None) -> float:
        """Fit on rows of ``x``; returns the fraction of the total variance explained."""
        k = self.n_components
        if k > min(x.shape):
            raise ValueError(f"{k} components need at least {k} rows and features")
        mean = x.mean(0)
        with torch.random.fork_rng(devices=[]):  # svd_lowrank draws a random projection
            torch.manual_seed(seed)
            _, _, v = torch.svd_lowrank(x - mean, q=min(k + 10, min(x.shape)), niter=4)
        components = v[:, :k].T.contiguous()
        coefficients = (x - mean) @ components.T
        residual = x - mean - coefficients @ components
        design = self._design(condition, x).expand(x.shape[0], -1)
        residual_mean = _least_squares(design, residual)
        centred = residual - design @ residual_mean
        self.mean.copy_(mean)
        self.components.copy_(components)
        self.scale.copy_(coefficients.std(0).clamp_min(1e-6))
        self.residual_mean.copy_(residual_mean)
        self.residual_var.copy_(_least_squares(design, centred**2))
        return float(1 - residual.var(0).sum() / x.var(0).sum())

    def residual_std(self, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Per-feature residual widths, one row per condition row (one row without)."""
        design = self._design(condition, self.residual_var)
        return (design @ self.residual_var).clamp_min(1e-12).sqrt()

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Whitened coefficients of the leading components, one row per row of ``x``."""
        return (x - self.mean) @ self.components.T / self.scale

    def decode(
        self,
        z: torch.Tensor,
        noise: NoiseSource = None,
        condition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Rows in data space for whitened coefficients ``z``: the reconstruction plus the
        residual's mean, plus residual noise drawn from ``noise`` (a generator or a
        models.noise source; none when it is None)."""
        design = self._design(condition, z)
        x = self.mean + (z * self.scale) @ self.components + design @ self.residual_mean
        if noise is None:
            return x
        return x + self.residual_std(condition) * normal(noise, x.shape, x.device, x.dtype)
