"""Diffusion (EDM) and flow-matching shower models over the layer-energy representation.

Both learn the vector (layer-energy ratios, per-layer shapes) after logit and
standardisation, given log E_inc, with a residual-MLP network (models.diffusion); samples
are assembled into showers like the flow models' (each layer shape renormalised to its
sampled layer energy). The sampler and its number of steps are chosen at generation time.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

import torch
from pydantic import Field

from physgen.calo.models.base import ShowerConfig, ShowerModel
from physgen.calo.showers import LayerEnergyRepresentation, log_energy, logit_standardize
from physgen.core.config import settings
from physgen.models import samplers
from physgen.models.diffusion import (
    DenoiserConfig,
    EDMDenoiser,
    ResidualMLP,
    VelocityField,
    edm_loss,
    flow_matching_loss,
)

__all__ = [
    "DiffusionShowerConfig",
    "DiffusionShowerModel",
    "FlowMatchingShowerModel",
    "FLOW_MATCHING_SAMPLERS",
]

FLOW_MATCHING_SAMPLERS = {
    "euler": samplers.sample_fm_euler,
    "midpoint": samplers.sample_fm_midpoint,
}
STOCHASTIC_SAMPLERS = ("edm", "ddpm", "restart")


@settings
class DiffusionShowerConfig(ShowerConfig):
    model: Literal["diffusion", "flow-matching"] = "diffusion"
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    # generation defaults (generate --sampler / --steps override); None: the model's own
    # (diffusion: DPM-Solver++(2M), 8 noise levels, from benchmarks/sampler_study.py;
    # flow matching: midpoint, 32 time steps)
    sampler: str | None = None
    steps: Annotated[int, Field(ge=1)] | None = None


class _Generative(ShowerModel):
    """Shared parts: one network over the preprocessed representation."""

    config_class = DiffusionShowerConfig

    def __init__(self, config: DiffusionShowerConfig):
        super().__init__(config)
        self.showers = LayerEnergyRepresentation(self.geometry)
        self.n_representation = self.geometry.n_layers + self.geometry.n_voxels
        self.preprocessing = logit_standardize(self.n_representation)
        self.sampler_name = config.sampler or self.default_sampler
        self.steps = config.steps or self.default_steps
        self.choose_sampler(self.sampler_name, self.steps)

    def _fit(self, incident_mev, showers_mev, run):
        generator = torch.Generator().manual_seed(self.config.training.seed)
        x = self.showers.encode(self.dequantize(showers_mev, generator), incident_mev)
        self.preprocessing.fit(x)
        return {
            "network": self._train("network", self, self._loss, (x, log_energy(incident_mev)), run)
        }

    def _decode(self, standardized, incident_mev):
        return self.showers.decode(self.preprocessing.inverse(standardized), incident_mev)


class DiffusionShowerModel(_Generative):
    """EDM denoiser D(x; sigma, E_inc); samplers from models.samplers."""

    name = "diffusion"
    samplers = tuple(samplers.SAMPLERS)
    # the best official-classifier AUC per network evaluation in the sampler study (docs)
    default_sampler, default_steps = "dpmpp2m", 8

    def __init__(self, config: DiffusionShowerConfig):
        super().__init__(config)
        self.denoiser = EDMDenoiser(
            ResidualMLP(self.n_representation, 1, config.denoiser), config.denoiser.sigma_data
        )

    @staticmethod
    def _loss(model, x, c):
        standardized, _ = model.preprocessing(x)
        return edm_loss(model.denoiser, standardized, c, model.config.denoiser)

    def _generate(self, incident_mev, noise):
        context = log_energy(incident_mev)
        sigmas = samplers.karras_sigmas(self.steps, device=incident_mev.device).float()
        x = noise.normal(self.n_representation) * sigmas[0]
        sampler = samplers.SAMPLERS[self.sampler_name]
        kwargs = {"noise": noise} if self.sampler_name in STOCHASTIC_SAMPLERS else {}
        x = sampler(lambda xb, sigma: self.denoiser(xb, sigma, context), x, sigmas, **kwargs)
        return self._decode(x, incident_mev)


class FlowMatchingShowerModel(_Generative):
    """Conditional flow matching v(x, t; E_inc), integrated with Euler or midpoint steps."""

    name = "flow-matching"
    samplers = tuple(FLOW_MATCHING_SAMPLERS)
    default_sampler, default_steps = "midpoint", 32

    def __init__(self, config: DiffusionShowerConfig):
        super().__init__(config)
        self.velocity = VelocityField(ResidualMLP(self.n_representation, 1, config.denoiser))

    @staticmethod
    def _loss(model, x, c):
        standardized, _ = model.preprocessing(x)
        return flow_matching_loss(model.velocity, standardized, c)

    def _generate(self, incident_mev, noise):
        context = log_energy(incident_mev)
        x = noise.normal(self.n_representation)
        times = samplers.uniform_times(self.steps, device=incident_mev.device).float()
        sampler = FLOW_MATCHING_SAMPLERS[self.sampler_name]
        x = sampler(lambda xb, t: self.velocity(xb, t, context), x, times)
        return self._decode(x, incident_mev)
