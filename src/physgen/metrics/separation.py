"""Separation power (triangular discrimination) of two histograms.

S = 1/2 sum_i (p_i - q_i)^2 / (p_i + q_i), with p and q normalised to 1 over the in-range
bins; 0 for identical and 1 for disjoint distributions. As in the official CaloChallenge
evaluation, entries outside the binning are dropped. Unlike it, the result is never NaN: a
sample with no entry in range against one that has some gives 1 (nothing overlaps), two
samples with none give 0, and the fraction of dropped entries is reported beside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HistogramComparison", "separation_power", "compare_histograms"]


@dataclass(frozen=True)
class HistogramComparison:
    edges: np.ndarray
    reference_counts: np.ndarray
    generated_counts: np.ndarray
    separation_power: float
    reference_out_of_range: float  # fraction of entries outside the binning
    generated_out_of_range: float


def separation_power(reference_counts, generated_counts) -> float:
    """Triangular discrimination of two histograms given as counts over the same bins."""
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(generated_counts, dtype=np.float64)
    p_total, q_total = p.sum(), q.sum()
    if p_total == 0 and q_total == 0:
        return 0.0
    if p_total == 0 or q_total == 0:
        return 1.0
    p, q = p / p_total, q / q_total
    both = (p + q) > 0
    return float(0.5 * np.sum((p[both] - q[both]) ** 2 / (p[both] + q[both])))


def _count(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, float]:
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    counts, _ = np.histogram(finite, bins=edges)
    n = len(values)
    return counts, (1.0 - counts.sum() / n) if n else 0.0


def compare_histograms(reference, generated, edges) -> HistogramComparison:
    """Histogram both samples on ``edges`` and compute their separation power."""
    edges = np.asarray(edges, dtype=np.float64)
    ref_counts, ref_out = _count(reference, edges)
    gen_counts, gen_out = _count(generated, edges)
    return HistogramComparison(
        edges, ref_counts, gen_counts, separation_power(ref_counts, gen_counts), ref_out, gen_out
    )
