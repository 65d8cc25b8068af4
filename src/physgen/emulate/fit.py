"""``physgen emulate fit``: the posterior of the simulator's parameters given an observed
summary and its covariance, by MCMC on the emulator.

Likelihood: y_obs ~ N(mu(theta), C_obs + C_emu(theta)), mu the committee mean and C_emu the
covariance of the members' means - the emulator's own uncertainty, so that a fit in a region
the emulator has not learned is wide rather than wrong. Prior: uniform within the
simulator's bounds. Sampler: emcee's affine-invariant ensemble (vectorised: one committee
pass for all walkers), started from the best of a Sobol set of candidates.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from physgen.core.errors import MissingExtraError, PhysgenInputError
from physgen.emulate.designs import sobol, to_bounds
from physgen.emulate.emulator import Emulator

__all__ = ["Observation", "read_observation", "FitResult", "fit_emulator", "log_likelihood"]


@dataclass(frozen=True)
class Observation:
    summary: np.ndarray
    covariance: np.ndarray
    parameters: np.ndarray | None = None  # the true parameters, where known


def read_observation(path, n_summaries: int) -> Observation:
    """An observation JSON: {"summary": [...], "covariance": [[...]] (or "errors": [...]),
    optionally "parameters": [...] (the truth, for checks)}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PhysgenInputError(f"{path}: not a readable JSON observation ({err})") from None
    if not isinstance(data, dict) or "summary" not in data:
        raise PhysgenInputError(f"{path}: needs a 'summary' list (and 'covariance' or 'errors')")
    summary = np.asarray(data["summary"], dtype=float)
    if summary.shape != (n_summaries,):
        raise PhysgenInputError(
            f"{path}: the summary has {summary.size} values, the emulator {n_summaries}"
        )
    if "covariance" in data:
        covariance = np.asarray(data["covariance"], dtype=float)
    elif "errors" in data:
        covariance = np.diag(np.square(np.asarray(data["errors"], dtype=float)))
    else:
        raise PhysgenInputError(f"{path}: give the summary's 'covariance' or its 'errors'")
    if covariance.shape != (n_summaries, n_summaries) or not np.isfinite(covariance).all():
        raise PhysgenInputError(f"{path}: the covariance must be a finite {n_summaries}^2 matrix")
    if np.linalg.eigvalsh((covariance + covariance.T) / 2).min() <= 0:
        raise PhysgenInputError(f"{path}: the covariance is not positive definite")
    truth = data.get("parameters")
    return Observation(summary, covariance, None if truth is None else np.asarray(truth, float))


def log_likelihood(emulator: Emulator, observation: Observation, theta, emulator_uncertainty=True):
    """log N(y_obs; mu(theta), C_obs + C_emu(theta)) for the rows of ``theta`` (n, d)."""
    prediction = emulator.predict(torch.as_tensor(theta, dtype=torch.float32))
    mean = prediction.mean.double()
    covariance = torch.as_tensor(observation.covariance).expand(len(mean), -1, -1)
    if emulator_uncertainty:
        covariance = covariance + prediction.covariance.double()
    residual = torch.as_tensor(observation.summary) - mean
    cholesky = torch.linalg.cholesky(covariance)
    solved = torch.linalg.solve_triangular(cholesky, residual[:, :, None], upper=False)
    log_det = 2 * torch.log(torch.diagonal(cholesky, dim1=1, dim2=2)).sum(1)
    return (-0.5 * solved.square().sum((1, 2)) - 0.5 * log_det).numpy()


@dataclass
class FitResult:
    samples: np.ndarray  # (n, d)
    log_likelihood: np.ndarray  # (n,)
    acceptance: float
    autocorrelation: np.ndarray  # (d,) in steps
    evaluations: int  # emulator likelihood evaluations
    seconds: float


def fit_emulator(
    emulator: Emulator,
    observation: Observation,
    bounds: np.ndarray,
    walkers: int = 32,
    steps: int = 3000,
    burn: int = 1000,
    seed: int = 0,
    emulator_uncertainty: bool = True,
) -> FitResult:
    try:
        import emcee
    except ImportError as err:
        raise MissingExtraError("emulate", "emcee") from err
    if burn >= steps:
        raise PhysgenInputError(f"the burn-in ({burn}) must be shorter than the chain ({steps})")
    bounds = np.asarray(bounds, dtype=float)
    dim = len(bounds)
    started = time.perf_counter()

    def log_posterior(theta):
        inside = ((theta >= bounds[:, 0]) & (theta <= bounds[:, 1])).all(1)
        values = np.full(len(theta), -np.inf)
        if inside.any():
            values[inside] = log_likelihood(
                emulator, observation, theta[inside], emulator_uncertainty
            )
        return values

    candidates = to_bounds(sobol(4096, dim, seed), bounds)
    best = np.argsort(log_posterior(candidates))[::-1][:walkers]
    sampler = emcee.EnsembleSampler(walkers, dim, log_posterior, vectorize=True)
    sampler.random_state = np.random.RandomState(seed).get_state()
    sampler.run_mcmc(candidates[best], steps, progress=False)
    chain = sampler.get_chain(discard=burn, flat=True)
    values = sampler.get_log_prob(discard=burn, flat=True)
    autocorrelation = sampler.get_autocorr_time(discard=burn, tol=0)
    return FitResult(
        samples=chain,
        log_likelihood=values,
        acceptance=float(np.mean(sampler.acceptance_fraction)),
        autocorrelation=np.asarray(autocorrelation),
        evaluations=len(candidates) + walkers * steps,
        seconds=time.perf_counter() - started,
    )
