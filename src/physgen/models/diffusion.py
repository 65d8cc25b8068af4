"""Conditional denoisers with EDM preconditioning, their training losses, and conditional
flow matching, for vectors x (n, features) given conditions c (n, context).

EDM (Karras et al. 2022): D(x; sigma, c) = c_skip x + c_out F(c_in x, c_noise, c) with
c_skip = s_d^2 / (sigma^2 + s_d^2), c_out = sigma s_d / sqrt(sigma^2 + s_d^2),
c_in = 1 / sqrt(sigma^2 + s_d^2), c_noise = ln(sigma) / 4, s_d the data standard deviation.
The loss is E[lambda(sigma) ||D(y + sigma n; sigma) - y||^2] with ln sigma ~ N(P_mean, P_std);
its minimiser is E[y | x]. Weightings: "edm" lambda = 1 / c_out^2 (unit weight on F) and
"min-snr" lambda = min(SNR, gamma) / sigma^2 ... expressed on D as min(1/sigma^2, gamma/s_d^2)
(Hang et al. 2023), SNR = s_d^2 / sigma^2.

Flow matching (Lipman et al. 2023, optimal-transport path): x_t = (1 - t) y + t eps, target
velocity eps - y, loss E ||v(x_t, t, c) - (eps - y)||^2; its minimiser is E[eps - y | x_t].
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from physgen.core.config import settings

__all__ = [
    "DenoiserConfig",
    "ResidualMLP",
    "EDMDenoiser",
    "edm_loss",
    "flow_matching_loss",
    "VelocityField",
]


@settings
class DenoiserConfig:
    hidden: Annotated[int, Field(ge=1)] = 512
    blocks: Annotated[int, Field(ge=1)] = 4
    embedding: Annotated[int, Field(ge=2)] = 64
    sigma_data: Annotated[float, Field(gt=0)] = 1.0
    p_mean: float = -1.2
    p_std: Annotated[float, Field(gt=0)] = 1.2
    weighting: Literal["edm", "min-snr"] = "edm"
    min_snr_gamma: Annotated[float, Field(gt=0)] = 5.0


def fourier_embedding(values: torch.Tensor, size: int) -> torch.Tensor:
    # smooth in the noise level: inputs are O(1) (ln sigma / 4, or t in [0, 1])
    frequencies = torch.exp(torch.linspace(0, math.log(32), size // 2, device=values.device))
    angles = values[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], 1)


class ResidualMLP(nn.Module):
    """F(x, noise level, condition): residual MLP blocks, noise and condition embedded."""

    def __init__(self, features: int, context: int, config: DenoiserConfig = DenoiserConfig()):
        super().__init__()
        self.embedding_size = config.embedding
        self.embed = nn.Sequential(
            nn.Linear(config.embedding + context, config.hidden),
            nn.SiLU(),
            nn.Linear(config.hidden, config.hidden),
        )
        self.inp = nn.Linear(features, config.hidden)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(config.hidden),
                nn.SiLU(),
                nn.Linear(config.hidden, config.hidden),
                nn.SiLU(),
                nn.Linear(config.hidden, config.hidden),
            )
            for _ in range(config.blocks)
        )
        self.out = nn.Sequential(
            nn.LayerNorm(config.hidden), nn.SiLU(), nn.Linear(config.hidden, features)
        )

    def forward(self, x, noise_level, context):
        condition = torch.cat([fourier_embedding(noise_level, self.embedding_size), context], 1)
        h = self.inp(x) + self.embed(condition)
        for block in self.blocks:
            h = h + block(h)
        return self.out(h)


class EDMDenoiser(nn.Module):
    """D(x; sigma, c) with EDM preconditioning around a network F."""

    def __init__(self, network: nn.Module, sigma_data: float = 1.0):
        super().__init__()
        self.network = network
        self.sigma_data = sigma_data

    def forward(self, x, sigma, context):
        sigma = sigma.reshape(-1, 1).to(x.dtype)
        s2 = self.sigma_data**2
        c_skip = s2 / (sigma**2 + s2)
        c_out = sigma * self.sigma_data / torch.sqrt(sigma**2 + s2)
        c_in = 1 / torch.sqrt(sigma**2 + s2)
        return c_skip * x + c_out * self.network(c_in * x, torch.log(sigma).squeeze(1) / 4, context)


def edm_loss(
    denoiser: EDMDenoiser,
    y,
    context,
    config: DenoiserConfig = DenoiserConfig(),
    generator: torch.Generator | None = None,
):
    """EDM denoising loss with the EDM or min-SNR weighting."""
    n = len(y)
    log_sigma = config.p_mean + config.p_std * torch.randn(n, generator=generator, device=y.device)
    sigma = torch.exp(log_sigma).to(y.dtype)
    noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
    denoised = denoiser(y + sigma[:, None] * noise, sigma, context)
    s2 = config.sigma_data**2
    if config.weighting == "edm":
        weight = (sigma**2 + s2) / (sigma * config.sigma_data) ** 2
    elif config.weighting == "min-snr":
        weight = torch.minimum(1 / sigma**2, torch.full_like(sigma, config.min_snr_gamma / s2))
    else:
        raise ValueError(f"unknown weighting '{config.weighting}': edm or min-snr")
    return (weight[:, None] * (denoised - y) ** 2).mean()


class VelocityField(nn.Module):
    """v(x, t, c) for flow matching; t in [0, 1] (0 data, 1 noise)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x, t, context):
        return self.network(x, t.reshape(-1).to(x.dtype), context)


def flow_matching_loss(velocity: VelocityField, y, context, generator=None):
    """Conditional flow matching on the optimal-transport path."""
    t = torch.rand(len(y), generator=generator, device=y.device, dtype=y.dtype)
    noise = torch.randn(y.shape, generator=generator, device=y.device, dtype=y.dtype)
    x_t = (1 - t[:, None]) * y + t[:, None] * noise
    return ((velocity(x_t, t, context) - (noise - y)) ** 2).mean()
