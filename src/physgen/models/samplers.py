"""Diffusion samplers as short pure functions ``sample_x(denoiser, x, sigmas, ...) -> x``.

The model is a denoiser D(x, sigma) ~ E[y | y + sigma n = x] in the variance-exploding
(EDM) parametrisation; the probability-flow ODE is dx/dsigma = (x - D(x, sigma)) / sigma.
``x`` starts as sigmas[0] * N(0, 1); ``sigmas`` decrease to 0 (see the schedules). ``x`` may
have any shape with the batch first; every sampler runs without gradients, and the stochastic
ones draw from ``noise`` (a generator or a models.noise source). Each
sampler evaluates the denoiser as often as its docstring says (the NFE). Flow-matching
samplers integrate a velocity field v(x, t) from t = 1 (noise) to t = 0 (data).

References: Karras et al. 2022 (EDM: Heun, stochastic sampler, schedule); Lu et al. 2022
(DPM-Solver++); Zhang & Chen 2022 / k-diffusion (LMS); Zhao et al. 2023 (UniPC); Xu et al.
2023 (Restart); Ho et al. 2020 (DDPM ancestral step); Jiang et al., arXiv:2401.13162.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy import integrate

from physgen.models.noise import NoiseSource, normal

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

__all__ = [
    "karras_sigmas",
    "loglinear_sigmas",
    "uniform_times",
    "sample_euler",
    "sample_heun",
    "sample_edm_stochastic",
    "sample_dpmpp_2m",
    "sample_lms",
    "sample_unipc",
    "sample_restart",
    "sample_ddpm",
    "sample_fm_euler",
    "sample_fm_midpoint",
    "fm_midpoint_step",
    "SAMPLERS",
    "nfe",
]


# --- noise-level schedules -------------------------------------------------------------------
def karras_sigmas(
    n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0, device="cpu"
) -> torch.Tensor:
    """EDM schedule: n levels from sigma_max to sigma_min, then a final 0."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    sigmas = (
        sigma_max ** (1 / rho) + ramp * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
    ) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).to(device)


def loglinear_sigmas(n: int, sigma_min: float = 0.002, sigma_max: float = 80.0, device="cpu"):
    sigmas = torch.exp(
        torch.linspace(math.log(sigma_max), math.log(sigma_min), n, dtype=torch.float64)
    )
    return torch.cat([sigmas, sigmas.new_zeros(1)]).to(device)


def uniform_times(n: int, device="cpu") -> torch.Tensor:
    """Flow matching: n + 1 times from 1 (noise) to 0 (data)."""
    return torch.linspace(1, 0, n + 1, dtype=torch.float64).to(device)


def _d(denoiser: Denoiser, x, sigma):
    return (x - denoiser(x, sigma.to(x.dtype).expand(x.shape[0]))) / sigma.to(x.dtype)


# --- deterministic ODE solvers -----------------------------------------------------------------
@torch.no_grad()
def sample_euler(denoiser: Denoiser, x, sigmas):
    """First order; NFE = steps."""
    for i in range(len(sigmas) - 1):
        x = x + _d(denoiser, x, sigmas[i]) * (sigmas[i + 1] - sigmas[i]).to(x.dtype)
    return x


def _heun_step(denoiser, x, sigma, sigma_next):
    d = _d(denoiser, x, sigma)
    x_euler = x + d * (sigma_next - sigma).to(x.dtype)
    if sigma_next == 0:
        return x_euler
    d_next = _d(denoiser, x_euler, sigma_next)
    return x + 0.5 * (d + d_next) * (sigma_next - sigma).to(x.dtype)


@torch.no_grad()
def sample_heun(denoiser: Denoiser, x, sigmas):
    """EDM's deterministic second-order sampler; NFE = 2 steps - 1."""
    for i in range(len(sigmas) - 1):
        x = _heun_step(denoiser, x, sigmas[i], sigmas[i + 1])
    return x


@torch.no_grad()
def sample_dpmpp_2m(denoiser: Denoiser, x, sigmas):
    """DPM-Solver++(2M), multistep in log-sigma; NFE = steps."""
    previous = None
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma.to(x.dtype).expand(x.shape[0]))
        if sigma_next == 0:
            x = denoised
            break
        h = math.log(sigma) - math.log(sigma_next)
        if previous is None or sigmas[i - 1] == 0:
            effective = denoised
        else:
            r = (math.log(sigmas[i - 1]) - math.log(sigma)) / h
            effective = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
        x = (sigma_next / sigma).to(x.dtype) * x - math.expm1(-h) * effective
        previous = denoised
    return x


def _lms_coefficient(order: int, sigmas: np.ndarray, i: int, j: int) -> float:
    def lagrange(tau):
        value = 1.0
        for k in range(order):
            if k != j:
                value *= (tau - sigmas[i - k]) / (sigmas[i - j] - sigmas[i - k])
        return value

    return integrate.quad(lagrange, sigmas[i], sigmas[i + 1], epsrel=1e-6)[0]


@torch.no_grad()
def sample_lms(denoiser: Denoiser, x, sigmas, order: int = 4):
    """Linear multistep on dx/dsigma (Lagrange polynomials over past derivatives); NFE = steps."""
    sigmas_np = sigmas.double().cpu().numpy()
    history = []
    for i in range(len(sigmas) - 1):
        history.append(_d(denoiser, x, sigmas[i]))
        history = history[-order:]
        current = len(history)
        coefficients = [_lms_coefficient(current, sigmas_np, i, j) for j in range(current)]
        x = x + sum(c * d for c, d in zip(coefficients, reversed(history), strict=True))
    return x


def _unipc_coefficients(h: float) -> tuple[float, float, float]:
    """B(h) = e^-h - 1 (bh2) and the right-hand sides b_1, b_2 of UniPC's order conditions
    for data prediction: b_k = k! phi_{k+1}(-h) / B(h), with phi from the exponential
    integrator (b_1 -> 1/2, b_2 -> 1/3 as h -> 0)."""
    hh = -h
    b_h = math.expm1(hh)
    phi_1 = math.expm1(hh) / hh - 1  # h-scaled phi_2
    phi_2 = phi_1 / hh - 0.5  # h-scaled phi_3
    return b_h, phi_1 / b_h, 2 * phi_2 / b_h


@torch.no_grad()
def sample_unipc(denoiser: Denoiser, x, sigmas):
    """UniPC-2 (Zhao et al. 2023; data prediction, B(h) = e^h - 1): the multistep predictor
    UniP-2 (rho = 1/2 on the previous difference), then the corrector UniC-2 solving the
    order conditions with the previous and the new evaluation; the new evaluation is reused
    by the next step, so NFE = steps."""
    lambdas = [(-math.log(s) if s > 0 else math.inf) for s in sigmas.tolist()]
    denoised_prev = None
    denoised = denoiser(x, sigmas[0].to(x.dtype).expand(x.shape[0]))
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        if sigma_next == 0:
            return denoised
        h = lambdas[i + 1] - lambdas[i]
        b_h, b_1, b_2 = _unipc_coefficients(h)
        x_linear = (sigma_next / sigma).to(x.dtype) * x - math.expm1(-h) * denoised
        difference = None
        if denoised_prev is not None:
            r = (lambdas[i - 1] - lambdas[i]) / h
            difference = (denoised_prev - denoised) / r
            x_pred = x_linear - b_h * 0.5 * difference
        else:
            x_pred = x_linear
        denoised_next = denoiser(x_pred, sigma_next.to(x.dtype).expand(x.shape[0]))
        new_difference = denoised_next - denoised
        if difference is None:
            x = x_linear - b_h * b_1 * new_difference
        else:  # rho_prev + rho_new = b_1, r rho_prev + rho_new = b_2
            rho_prev = (b_1 - b_2) / (1 - r)
            rho_new = b_1 - rho_prev
            x = x_linear - b_h * (rho_prev * difference + rho_new * new_difference)
        denoised_prev, denoised = denoised, denoised_next
    return x


# --- stochastic samplers -------------------------------------------------------------------
@torch.no_grad()
def sample_edm_stochastic(
    denoiser: Denoiser,
    x,
    sigmas,
    churn: float = 40.0,
    s_tmin: float = 0.05,
    s_tmax: float = 50.0,
    s_noise: float = 1.003,
    noise: NoiseSource = None,
):
    """EDM Algorithm 2: add noise to raise sigma by a factor (1 + gamma), then a Heun step;
    NFE = 2 steps - 1."""
    steps = len(sigmas) - 1
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        gamma = min(churn / steps, math.sqrt(2) - 1) if s_tmin <= sigma <= s_tmax else 0.0
        sigma_hat = sigma * (1 + gamma)
        if gamma > 0:
            kick = normal(noise, x.shape, x.device, x.dtype)
            x = x + kick * s_noise * math.sqrt(sigma_hat**2 - sigma**2)
        x = _heun_step(denoiser, x, sigma_hat, sigma_next)
    return x


@torch.no_grad()
def sample_ddpm(denoiser: Denoiser, x, sigmas, noise: NoiseSource = None):
    """Ancestral sampling from the DDPM posterior p(x_next | x, y = D(x)): mean
    y + (s'^2/s^2)(x - y), variance s'^2 (1 - s'^2/s^2) (variance-exploding form); NFE = steps."""
    for i in range(len(sigmas) - 1):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        denoised = denoiser(x, sigma.to(x.dtype).expand(x.shape[0]))
        ratio = (sigma_next**2 / sigma**2).to(x.dtype)
        x = denoised + ratio * (x - denoised)
        if sigma_next > 0:
            std = sigma_next * torch.sqrt(1 - ratio)
            x = x + std.to(x.dtype) * normal(noise, x.shape, x.device, x.dtype)
    return x


@torch.no_grad()
def sample_restart(
    denoiser: Denoiser,
    x,
    sigmas,
    restart_min: float = 0.06,
    restart_max: float = 0.30,
    restart_steps: int = 2,
    restarts: int = 2,
    noise: NoiseSource = None,
):
    """Restart (Xu et al. 2023): Heun steps; on reaching ``restart_min``, add noise back up to
    ``restart_max`` and repeat that interval with ``restart_steps`` Heun steps ``restarts``
    times. NFE = 2 steps - 1 + restarts (2 restart_steps)."""
    inner = karras_sigmas(restart_steps + 1, restart_min, restart_max)[:-1].to(sigmas.device)
    restarted = False
    for i in range(len(sigmas) - 1):
        x = _heun_step(denoiser, x, sigmas[i], sigmas[i + 1])
        if not restarted and 0 < sigmas[i + 1] <= restart_min:
            restarted = True
            level = sigmas[i + 1]
            for _ in range(restarts):
                kick = normal(noise, x.shape, x.device, x.dtype)
                x = x + kick * math.sqrt(restart_max**2 - float(level) ** 2)
                path = torch.cat([inner, level.reshape(1)])
                for j in range(len(path) - 1):
                    x = _heun_step(denoiser, x, path[j], path[j + 1])
    return x


# --- flow matching -----------------------------------------------------------------------------
@torch.no_grad()
def sample_fm_euler(velocity, x, times):
    """Euler from t = 1 to 0 of dx/dt = v(x, t); NFE = steps."""
    for i in range(len(times) - 1):
        t = times[i].to(x.dtype).expand(x.shape[0])
        x = x + velocity(x, t) * (times[i + 1] - times[i]).to(x.dtype)
    return x


def fm_midpoint_step(velocity, x, t, dt):
    """One explicit midpoint step of dx/dt = v(x, t) from t (a tensor of len(x)) by dt."""
    half = x + 0.5 * dt * velocity(x, t)
    return x + dt * velocity(half, t + 0.5 * dt)


@torch.no_grad()
def sample_fm_midpoint(velocity, x, times):
    """Explicit midpoint; NFE = 2 steps."""
    for i in range(len(times) - 1):
        dt = (times[i + 1] - times[i]).to(x.dtype)
        x = fm_midpoint_step(velocity, x, times[i].to(x.dtype).expand(x.shape[0]), dt)
    return x


SAMPLERS = {
    "euler": sample_euler,
    "heun": sample_heun,
    "edm": sample_edm_stochastic,
    "dpmpp2m": sample_dpmpp_2m,
    "lms": sample_lms,
    "unipc": sample_unipc,
    "restart": sample_restart,
    "ddpm": sample_ddpm,
}


def nfe(name: str, steps: int, restarts: int = 2, restart_steps: int = 2) -> int:
    """Denoiser evaluations of a sampler with ``steps`` noise levels (sigma > 0)."""
    return {
        "euler": steps,
        "dpmpp2m": steps,
        "lms": steps,
        "unipc": steps,
        "ddpm": steps,
        "heun": 2 * steps - 1,
        "edm": 2 * steps - 1,
        "restart": 2 * steps - 1 + restarts * 2 * restart_steps,
    }[name]
