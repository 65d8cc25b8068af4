"""Frechet and kernel physics distances (FPD, KPD) between two sets of feature vectors.

Definitions after Kansal et al., "Evaluating generative models in high energy physics"
(Phys. Rev. D 107, 076017 (2023)), as implemented in the JetNet package:
- features are scaled by the maximum absolute value of each reference feature (a feature
  that is zero to within 1e-6 in the reference, e.g. a width in a layer that never holds two
  hits, is left unscaled: dividing by its float round-off would blow the distance up);
- FPD: the Frechet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) of Gaussian fits,
  averaged over random subsets of size N for N between min and max samples, then linearly
  extrapolated in 1/N to infinite N (the intercept is FPD, its fit error the uncertainty);
- KPD: the unbiased squared maximum mean discrepancy with the cubic polynomial kernel
  k(x, y) = (x.y / d + 1)^3, over batches; median and half the inter-quartile range.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, stats

__all__ = ["frechet_distance", "fpd", "kpd", "mmd2_polynomial"]


def _scale(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    scale = np.max(np.abs(reference), axis=0)
    scale[scale < 1e-6] = 1.0
    return reference / scale, generated / scale


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance between two Gaussians."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _frechet_of(x: np.ndarray, y: np.ndarray) -> float:
    return frechet_distance(
        x.mean(0),
        np.atleast_2d(np.cov(x, rowvar=False)),
        y.mean(0),
        np.atleast_2d(np.cov(y, rowvar=False)),
    )


def fpd(
    reference,
    generated,
    min_samples: int = 10_000,
    max_samples: int = 50_000,
    num_batches: int = 10,
    num_points: int = 10,
    seed: int = 42,
) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite samples: (value, uncertainty)."""
    x, y = _scale(reference, generated)
    n_available = min(len(x), len(y))
    max_samples = min(max_samples, n_available)
    min_samples = min(min_samples, max(max_samples // 2, 2))
    rng = np.random.default_rng(seed)
    sizes = np.linspace(min_samples, max_samples, num_points).astype(int)
    values = []
    for size in sizes:
        batch_values = []
        for _ in range(num_batches):
            xi = x[rng.choice(len(x), size, replace=False)]
            yi = y[rng.choice(len(y), size, replace=False)]
            batch_values.append(_frechet_of(xi, yi))
        values.append(np.mean(batch_values))
    if len(set(sizes.tolist())) < 2:
        return float(values[-1]), float("nan")
    fit = stats.linregress(1.0 / sizes, values)
    return float(fit.intercept), float(fit.intercept_stderr)


def mmd2_polynomial(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^3."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def kpd(
    reference, generated, num_batches: int = 10, batch_size: int = 5_000, seed: int = 42
) -> tuple[float, float]:
    """Kernel physics distance: (median over batches, half the inter-quartile range)."""
    x, y = _scale(reference, generated)
    batch_size = min(batch_size, len(x), len(y))
    rng = np.random.default_rng(seed)
    values = [
        mmd2_polynomial(
            x[rng.choice(len(x), batch_size, replace=False)],
            y[rng.choice(len(y), batch_size, replace=False)],
        )
        for _ in range(num_batches)
    ]
    return float(np.median(values)), float(stats.iqr(values) / 2)
