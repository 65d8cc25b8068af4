"""Importance-sampling estimators from log-weights log w = log p~(x) - log q(x), x ~ q:

- Z = mean(w), with the standard error of the mean; log Z's error by the delta method,
  sd(w) / (sqrt(n) mean(w)) (the relative error of Z);
- ESS / n = (sum w)^2 / (n sum w^2) (Kish);
- unweighting efficiency = mean(w) / max(w): the fraction of draws that rejection against the
  largest weight keeps (the event-generator definition, as MadNIS and VEGAS users quote it).

All in float64 with the weights scaled by their maximum, so nothing overflows; a weight of 0
(log w = -inf: a draw outside the target's support) counts as a draw with zero weight.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["importance_estimates", "unweight"]


def importance_estimates(log_w) -> dict:
    log_w = np.asarray(log_w, dtype=np.float64).reshape(-1)
    n = len(log_w)
    if n < 2:
        raise ValueError("importance estimates need at least 2 weights")
    if np.isnan(log_w).any() or (log_w == np.inf).any():
        raise ValueError("log-weights hold NaN or +inf")
    top = log_w.max()
    if top == -np.inf:
        return {"log_z": -math.inf, "log_z_error": math.inf, "ess_per_sample": 0.0,
                "unweighting_efficiency": 0.0, "n": n}  # fmt: skip
    w = np.exp(log_w - top)
    mean = w.mean()
    relative_error = w.std(ddof=1) / (math.sqrt(n) * mean)
    return {
        "log_z": float(top + math.log(mean)),
        "log_z_error": float(relative_error),
        "ess_per_sample": float(w.sum() ** 2 / (n * np.square(w).sum())),
        "unweighting_efficiency": float(mean),  # mean(w) / max(w), w scaled by its max
        "n": n,
    }


def unweight(log_w, rng: np.random.Generator, log_max: float | None = None) -> np.ndarray:
    """Indices of the draws kept by rejection with probability w / w_max (w_max: the largest
    weight, or exp(``log_max``) fixed beforehand; a draw above it is always kept)."""
    log_w = np.asarray(log_w, dtype=np.float64)
    log_max = log_w.max() if log_max is None else log_max
    keep = np.log(rng.random(len(log_w))) < log_w - log_max
    return np.flatnonzero(keep)
