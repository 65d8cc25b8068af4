"""Estimators from an exact-probability sampler q and a Boltzmann target exp(-beta E) / Z.

With log-weights ln w = -beta E - ln q over N independent samples from q:
- neural importance sampling (Nicoli et al., arXiv:1910.13496): ln Z = ln mean(w), with the
  delta-method error std(w / mean w) / sqrt(N); the free energy F = -ln Z / beta; internal
  energy <E> = sum w E / sum w and specific heat beta^2 (<E^2> - <E>^2) / N_sites;
- the variational free energy F_q = mean(ln q + beta E) / beta >= F;
- the effective sample size ESS / N = (sum w)^2 / (N sum w^2);
- neural MCMC: an independence Metropolis chain with q as proposal, accepting with
  min(1, w' / w): acceptance rate and integrated autocorrelation time of the energy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.special import logsumexp


def draw(sampler, energy_fn, n: int, batch: int = 1000, seed: int = 0, keep=None):
    """n samples: (log q, energies) as float64 numpy arrays; with ``keep`` (a function of a
    batch of samples) also the concatenation of what it returns for every batch."""
    device = next(sampler.buffers(), next(sampler.parameters(), torch.empty(0))).device
    generator = torch.Generator(device=device).manual_seed(seed)
    log_q, energies, kept = [], [], []
    with torch.no_grad():
        for begin in range(0, n, batch):
            spins = sampler.sample(min(batch, n - begin), generator)
            log_q.append(sampler.log_prob(spins).double().cpu().numpy())
            energies.append(torch.as_tensor(energy_fn(spins)).double().cpu().numpy())
            if keep is not None:
                kept.append(keep(spins))
    result = np.concatenate(log_q), np.concatenate(energies)
    return result if keep is None else (*result, torch.cat(kept))


def nis_estimates(log_q: np.ndarray, energies: np.ndarray, beta: float, n_sites: int) -> dict:
    n = len(log_q)
    log_w = -beta * energies - log_q
    log_z = logsumexp(log_w) - math.log(n)
    w = np.exp(log_w - log_w.max())
    normalized = w / w.mean()
    log_z_err = normalized.std(ddof=1) / math.sqrt(n)
    p = w / w.sum()
    mean_e = float((p * energies).sum())
    mean_e2 = float((p * energies**2).sum())
    # delta-method errors of the self-normalised averages
    mean_e_err = float(math.sqrt(((normalized * (energies - mean_e)) ** 2).mean() / n))
    return {
        "n_samples": n,
        "log_z": float(log_z),
        "log_z_err": float(log_z_err),
        "free_energy_per_site": float(-log_z / (beta * n_sites)),
        "free_energy_per_site_err": float(log_z_err / (beta * n_sites)),
        "variational_free_energy_per_site": float(
            np.mean(log_q + beta * energies) / (beta * n_sites)
        ),
        "energy_per_site": mean_e / n_sites,
        "energy_per_site_err": mean_e_err / n_sites,
        "specific_heat_per_site": beta**2 * (mean_e2 - mean_e**2) / n_sites,
        "ess_fraction": float(w.sum() ** 2 / (n * (w**2).sum())),
    }


def integrated_autocorrelation_time(series: np.ndarray, window_factor: float = 5.0) -> float:
    """Sokal's windowed estimate of tau_int = 1/2 + sum_t rho(t)."""
    x = np.asarray(series, dtype=np.float64) - np.mean(series)
    n = len(x)
    if n < 4 or np.allclose(x, 0):
        return 0.5
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    acf /= acf[0]
    tau = 0.5
    for t in range(1, n):
        tau += acf[t]
        if t >= window_factor * tau:
            break
    return float(tau)


def neural_mcmc(log_q: np.ndarray, energies: np.ndarray, beta: float, seed: int = 0) -> dict:
    """Independence Metropolis over proposals (in order) from q."""
    rng = np.random.default_rng(seed)
    log_w = -beta * energies - log_q
    current = 0
    chain = np.empty(len(log_w))
    accepted = 0
    log_u = np.log(rng.random(len(log_w)))
    for i in range(len(log_w)):
        if i > 0 and log_u[i] < log_w[i] - log_w[current]:
            current = i
            accepted += 1
        chain[i] = energies[current]
    tau = integrated_autocorrelation_time(chain)
    return {
        "acceptance": accepted / max(len(log_w) - 1, 1),
        "tau_int_energy": tau,
        "mean_energy": float(chain.mean()),
    }
