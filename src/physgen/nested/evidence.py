"""Skilling's evidence from the dead points of a nested-sampling run.

With n live points, the i-th point removed has prior volume X_i with log X_i = -i / n in
expectation (each step shrinks X by t ~ Beta(n, 1), E[log t] = -1/n). The evidence is the
quadrature Z = sum_i L_i (X_{i-1} - X_i) + X_end mean(L_live) (the live points at the end each
hold X_end / n), the information H = sum_i p_i log(L_i / Z) with p_i = L_i w_i / Z, and the
statistical error of log Z is sqrt(H / n) (Skilling 2006). The posterior is the dead (and
final live) points weighted by p_i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

__all__ = ["Evidence", "evidence", "log_volumes"]


@dataclass(frozen=True)
class Evidence:
    log_z: float
    log_z_err: float
    information: float  # H, nats
    log_weights: np.ndarray  # log p_i of every point (dead, then final live), sum exp = 1


def log_volumes(n_dead: int, n_live: int) -> np.ndarray:
    """log X_i = -i / n for i = 1 .. n_dead."""
    return -np.arange(1, n_dead + 1) / n_live


def evidence(dead_log_l: np.ndarray, live_log_l: np.ndarray, n_live: int) -> Evidence:
    """The evidence of dead points (in the order they died) and the live points left."""
    dead_log_l = np.asarray(dead_log_l, np.float64)
    live_log_l = np.asarray(live_log_l, np.float64)
    log_x = np.concatenate([[0.0], log_volumes(len(dead_log_l), n_live)])
    # X_{i-1} - X_i = X_{i-1} (1 - e^{-1/n})
    log_width = log_x[:-1] + np.log1p(-np.exp(-1.0 / n_live))
    log_end = log_x[-1] - np.log(len(live_log_l)) if len(live_log_l) else -np.inf
    log_terms = np.concatenate(
        [dead_log_l + log_width, live_log_l + log_end * np.ones(len(live_log_l))]
    )
    log_z = float(logsumexp(log_terms))
    log_p = log_terms - log_z
    log_l = np.concatenate([dead_log_l, live_log_l])
    p = np.exp(log_p)
    information = float(np.sum(p * np.where(p > 0, log_l - log_z, 0.0)))
    information = max(information, 0.0)
    return Evidence(log_z, float(np.sqrt(information / n_live)), information, log_p)
