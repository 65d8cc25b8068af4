"""Frechet and kernel physics distances (FPD, KPD) between two sets of feature vectors.

Definitions of Kansal et al., "Evaluating generative models in high energy physics"
(arXiv:2211.10295, Phys. Rev. D 107, 076017 (2023)), as implemented by the JetNet package
(``jetnet.evaluation.fpd`` / ``kpd``, v0.2.5) and called by the CaloChallenge evaluation
(``fpd(reference, generated, min_samples=10000)``, ``kpd(reference, generated,
batch_size=10000)``: the defaults here):

- features are scaled by the maximum absolute value of each reference feature. A feature that
  is zero to within 1e-6 in the reference (e.g. a width in a layer that never holds two hits)
  is left unscaled; JetNet leaves only exact zeros unscaled, and dividing by float round-off
  would blow the distance up.
- FPD: the Frechet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) of the Gaussian
  fits of two batches. It is measured at ``num_points`` batch sizes N spaced evenly in 1/N
  from 1/min_samples to 1/max_samples (N = int(1 / (1/N))), each the mean over
  ``num_batches`` pairs of batches drawn with replacement (one random generator seeded with
  ``seed``: reference rows, then generated rows, batch by batch). A straight line
  FPD(N) = FPD_inf + b / N is fitted by least squares with FPD_inf >= 0 and b >= 0; the result
  is the intercept FPD_inf and its standard error from the fit,
  sqrt(s^2 [(A^T A)^-1]_00) with s^2 = (sum of squared residuals) / (num_points - 2) (what
  ``scipy.optimize.curve_fit`` returns to JetNet).
- KPD: the unbiased estimator of the squared maximum mean discrepancy
  MMD^2 = sum_{i!=j} k(x_i, x_j) / (m (m-1)) + sum_{i!=j} k(y_i, y_j) / (n (n-1))
          - 2 sum_{i,j} k(x_i, y_j) / (m n)
  with the polynomial kernel of degree 4, k(x, y) = (x.y / d + 1)^4 (d features), on
  ``num_batches`` pairs of batches of ``batch_size`` rows drawn with replacement (batch i from
  a generator seeded with ``seed + 1000 i``: reference rows, then generated rows). The result
  is the median over batches and half the spread between their 16.275th and 83.725th
  percentiles (JetNet: ``scipy.stats.iqr(values, rng=(16.275, 83.725)) / 2``).

Since batches are drawn with replacement, the batch sizes do not depend on the sample sizes;
JetNet recommends at least 50 000 rows per sample. Below a batch (KPD: fewer rows than
``batch_size``; FPD: fewer than ``min_samples``) the batches would mostly repeat rows, every
batch would see the same sample and the spread between them - the JetNet error - says nothing
about the sample (KPD printed "1.488 +- 0"). There the value is the statistic on the whole
samples, every row once (FPD: the Frechet distance of their Gaussian fits, less its 1/N bias
estimated from the halves, 2 FD(N) - mean FD(N/2), as the batch recipe extrapolates in 1/N;
KPD: the unbiased MMD^2 of all rows),
and the error is the delete-half jackknife (Shao and Wu 1989): the root-mean-square spread of
the statistic over ``resamples`` random halves of both samples, which estimates its standard
deviation at the full size without the duplicated rows that bias a plain bootstrap of a kernel
statistic. For an MMD^2 near zero it is conservative (up to 2x: a degenerate U-statistic's
spread halves with every doubling of the sample).

Computation (same numbers as JetNet's up to float round-off and the fit's convergence
tolerance; checked against a re-implementation of its code): a batch drawn with replacement
is held as its distinct rows and their counts (means, covariances and kernel sums weighted by
the counts, so the cost scales with min(sample, batch) rows), kernel sums are taken in row
blocks (no batch x batch matrix in memory), Tr (S1 S2)^(1/2) comes from the eigenvalues of
S1^(1/2) S2 S1^(1/2) instead of a general matrix square root, and the bounded straight-line
fit is solved exactly (bounded-variable least squares) instead of iteratively.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, optimize, stats

__all__ = [
    "fpd",
    "fpd_batch_sizes",
    "frechet_distance",
    "kpd",
    "mmd2_polynomial",
    "half_sample_error",
    "distance_method",
]

KPD_DEGREE = 4
KPD_PERCENTILES = (16.275, 83.725)
# rows of a kernel block: about 64 MB of float64 at a 10 000-row batch
_KERNEL_BLOCK_ELEMENTS = 8_000_000


def _scale(reference: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    reference = np.asarray(reference, dtype=np.float64)
    generated = np.asarray(generated, dtype=np.float64)
    scale = np.max(np.abs(reference), axis=0)
    scale[scale < 1e-6] = 1.0
    return reference / scale, generated / scale


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    values, vectors = linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Frechet distance ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians.

    Tr (S1 S2)^(1/2) is the sum of the square roots of the eigenvalues of S1 S2, which are
    those of the symmetric positive semi-definite S1^(1/2) S2 S1^(1/2): computed from that
    matrix (two symmetric eigen-decompositions, stable for singular covariances) rather than
    with a general matrix square root.
    """
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    diff = mu1 - mu2
    root1 = _sqrt_psd((sigma1 + sigma1.T) / 2)
    inner = root1 @ sigma2 @ root1
    eigenvalues = linalg.eigvalsh((inner + inner.T) / 2)
    tr_covmean = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


def _counts(indices: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """A batch drawn with replacement as (distinct rows, how often each was drawn)."""
    counts = np.bincount(indices, minlength=n_rows)
    rows = np.flatnonzero(counts)
    return rows, counts[rows].astype(np.float64)


def _mean_cov(x: np.ndarray, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (ddof 1) of the batch x[indices], each distinct row weighted by its
    count: the same numbers as np.cov(x[indices]) without building the batch."""
    rows, weights = _counts(indices, len(x))
    batch = x[rows]
    n = len(indices)
    mean = weights @ batch / n
    centred = batch - mean
    cov = (centred * weights[:, None]).T @ centred / (n - 1)
    return mean, cov


def fpd_batch_sizes(min_samples: int, max_samples: int, num_points: int) -> np.ndarray:
    """The FPD batch sizes: ``num_points`` values evenly spaced in 1/N."""
    inverse = np.linspace(1.0 / min_samples, 1.0 / max_samples, num_points)
    return (1.0 / inverse).astype(np.int64)


def _intercept_fit(inverse_n: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Least-squares line values = a + b inverse_n with a, b >= 0: (a, standard error of a)."""
    design = np.column_stack([np.ones_like(inverse_n), inverse_n])
    fit = optimize.lsq_linear(design, values, bounds=(0.0, np.inf), method="bvls")
    residuals = values - design @ fit.x
    dof = len(values) - 2
    if dof < 1:
        return float(fit.x[0]), float("nan")
    s2 = residuals @ residuals / dof
    covariance = s2 * np.linalg.inv(design.T @ design)
    return float(fit.x[0]), float(np.sqrt(covariance[0, 0]))


FPD_MIN_SAMPLES = 10_000
KPD_BATCH_SIZE = 10_000
MIN_ROWS = 4  # the halves of the jackknife need two rows each


def half_samples(statistic, x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """``statistic`` on ``resamples`` random halves (without replacement) of both samples."""
    if min(len(x), len(y)) < MIN_ROWS:
        raise ValueError(f"a distance needs at least {MIN_ROWS} rows per sample")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        half_x = rng.permutation(len(x))[: len(x) // 2]
        half_y = rng.permutation(len(y))[: len(y) // 2]
        values.append(statistic(x[half_x], y[half_y]))
    return np.asarray(values)


def half_sample_error(statistic, x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> float:
    """Delete-half jackknife standard error of ``statistic(x, y)``: the spread of the
    statistic over random halves of both samples (Shao and Wu: at d = n / 2 the variance of
    the halves estimates that of the whole)."""
    return float(np.std(half_samples(statistic, x, y, resamples, seed), ddof=1))


def _gaussian_frechet(x: np.ndarray, y: np.ndarray) -> float:
    return frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False))


def _scaled(statistic):
    # the scaling by the reference's largest values is part of the estimator: the halves are
    # scaled by their own, so that its scatter enters the error
    return lambda a, b: statistic(*_scale(a, b))


def distance_method(name: str, n_rows: int) -> str:
    """How ``fpd`` or ``kpd`` computes its value at this sample size (the module's docstring)."""
    batch_rows = FPD_MIN_SAMPLES if name == "fpd" else KPD_BATCH_SIZE
    if n_rows >= batch_rows:
        return "batches"
    if name == "fpd":
        return "whole-sample, 1/N bias-corrected with half samples, half-sample jackknife error"
    return "whole-sample, half-sample jackknife error"


def fpd(
    reference,
    generated,
    min_samples: int = FPD_MIN_SAMPLES,
    max_samples: int = 50_000,
    num_batches: int = 20,
    num_points: int = 10,
    seed: int = 42,
    resamples: int = 20,
) -> tuple[float, float]:
    """Frechet physics distance extrapolated to infinite batch size: (value, uncertainty)."""
    x, y = _scale(reference, generated)
    if min(len(x), len(y)) < min_samples:
        # the Frechet distance of two fits has a bias ~ 1/N (it is > 0 for one distribution):
        # removed as the batch recipe's 1/N extrapolation does, from the whole and the halves
        # (the halves for the bias keep the whole samples' scale; those for the error take
        # their own, so that the scale's scatter enters the error)
        halves = half_samples(_gaussian_frechet, x, y, resamples, seed)
        raw = np.asarray(reference, np.float64), np.asarray(generated, np.float64)
        error = half_sample_error(_scaled(_gaussian_frechet), *raw, resamples, seed)
        return 2 * _gaussian_frechet(x, y) - float(halves.mean()), error
    sizes = fpd_batch_sizes(min_samples, max_samples, num_points)
    rng = np.random.default_rng(seed)
    values = []
    for size in sizes:
        batch_values = []
        for _ in range(num_batches):
            mean_x, cov_x = _mean_cov(x, rng.choice(len(x), size=size))
            mean_y, cov_y = _mean_cov(y, rng.choice(len(y), size=size))
            batch_values.append(frechet_distance(mean_x, cov_x, mean_y, cov_y))
        values.append(np.mean(batch_values))
    values = np.asarray(values, dtype=np.float64)
    if len(np.unique(sizes)) < 2:
        return float(values.mean()), float("nan")
    return _intercept_fit(1.0 / sizes, values)


def _power_inplace(k: np.ndarray, degree: int) -> None:
    if degree > 0 and degree & (degree - 1) == 0:  # 2, 4, 8: repeated squaring is faster
        while degree > 1:
            np.square(k, out=k)
            degree //= 2
    else:
        np.power(k, degree, out=k)


def _kernel_sum(a: np.ndarray, wa: np.ndarray, b: np.ndarray, wb: np.ndarray, degree: int) -> float:
    """sum_ij wa_i wb_j (a_i.b_j / d + 1)^degree, in row blocks to bound the memory."""
    d = a.shape[1]
    block = max(1, _KERNEL_BLOCK_ELEMENTS // max(len(b), 1))
    total = 0.0
    for start in range(0, len(a), block):
        k = a[start : start + block] @ b.T
        k /= d
        k += 1.0
        _power_inplace(k, degree)
        total += float(wa[start : start + block] @ (k @ wb))
    return total


def _weighted_mmd2(
    x: np.ndarray, wx: np.ndarray, y: np.ndarray, wy: np.ndarray, degree: int
) -> float:
    """Unbiased MMD^2 of the batches holding row x_i wx_i times and row y_j wy_j times.

    The sums over pairs of distinct batch positions p != q are the weighted sums over all
    pairs of rows less the pairs of a position with itself, sum_i w_i k(x_i, x_i).
    """
    d = x.shape[1]
    m, n = wx.sum(), wy.sum()
    self_x = wx @ (np.einsum("ij,ij->i", x, x) / d + 1.0) ** degree
    self_y = wy @ (np.einsum("ij,ij->i", y, y) / d + 1.0) ** degree
    kxx = _kernel_sum(x, wx, x, wx, degree) - self_x
    kyy = _kernel_sum(y, wy, y, wy, degree) - self_y
    kxy = _kernel_sum(x, wx, y, wy, degree)
    return float(kxx / (m * (m - 1)) + kyy / (n * (n - 1)) - 2 * kxy / (m * n))


def mmd2_polynomial(x: np.ndarray, y: np.ndarray, degree: int = KPD_DEGREE) -> float:
    """Unbiased MMD^2 of two batches with the kernel (x.y / d + 1)^degree (KPD: degree 4).

    Every row is one batch member (repeated rows count as distinct members, as in a batch
    drawn with replacement).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return _weighted_mmd2(x, np.ones(len(x)), y, np.ones(len(y)), degree)


def kpd(
    reference,
    generated,
    num_batches: int = 10,
    batch_size: int = KPD_BATCH_SIZE,
    seed: int = 42,
    resamples: int = 20,
) -> tuple[float, float]:
    """Kernel physics distance: (median over batches, half the 16.275-83.725 percentile range)."""
    x, y = _scale(reference, generated)
    if min(len(x), len(y)) < batch_size:
        raw = np.asarray(reference, np.float64), np.asarray(generated, np.float64)
        error = half_sample_error(_scaled(mmd2_polynomial), *raw, resamples, seed)
        return mmd2_polynomial(x, y), error
    values = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + 1000 * i)
        rows_x, wx = _counts(rng.choice(len(x), size=batch_size), len(x))
        rows_y, wy = _counts(rng.choice(len(y), size=batch_size), len(y))
        values.append(_weighted_mmd2(x[rows_x], wx, y[rows_y], wy, KPD_DEGREE))
    return float(np.median(values)), float(stats.iqr(values, rng=KPD_PERCENTILES) / 2)
