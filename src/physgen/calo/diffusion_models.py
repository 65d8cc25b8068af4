"""Diffusion (EDM) and flow-matching shower models over the layer-energy representation.

Both learn the vector (layer-energy ratios, per-layer shapes) after logit and
standardisation, given log E_inc, with a residual-MLP network (models.diffusion); samples
are assembled into showers like the flow models' (each layer shape renormalised to its
sampled layer energy). The sampler and its number of steps are chosen at generation time.
"""

from __future__ import annotations

import torch

from physgen.calo.geometry import Geometry
from physgen.calo.shower_models import (
    MODELS,
    ShowerModelConfig,
    _LayerEnergyRepresentation,
    _log_energy,
    _logit_standardize,
)
from physgen.models import samplers
from physgen.models.diffusion import (
    EDMDenoiser,
    ResidualMLP,
    VelocityField,
    edm_loss,
    flow_matching_loss,
)

FLOW_MATCHING_SAMPLERS = {
    "euler": samplers.sample_fm_euler,
    "midpoint": samplers.sample_fm_midpoint,
}


class _Generative(_LayerEnergyRepresentation):
    """Shared parts: one network over the preprocessed representation."""

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        self.n_features = geometry.n_layers + geometry.n_voxels
        self.preprocessing = _logit_standardize(self.n_features)
        self.sampler_name = config.sampler or self.default_sampler
        self.steps = config.steps or self.default_steps

    def _flows(self):  # the training units of ShowerModel.fit
        return [("network", self)]

    def _training_inputs(self, energies, showers, flow_name):
        return self._representation(energies, showers), _log_energy(energies)

    def fit(self, incident_mev, showers_mev, run_dir=None, resume=False, progress=True):
        import numpy as np

        energies = torch.as_tensor(np.asarray(incident_mev, np.float32))
        showers = torch.as_tensor(np.asarray(showers_mev, np.float32))
        x = self._representation(energies, self.dequantize(showers))
        self.preprocessing.fit(x)
        return super().fit(incident_mev, showers_mev, run_dir, resume, progress)

    def _decode(self, standardized, energies):
        x = self.preprocessing.inverse(standardized)
        n_layers = self.geometry.n_layers
        return self._assemble(x[:, :n_layers], x[:, n_layers:], energies)

    def log_prob(self, showers_mev, incident_mev):
        raise NotImplementedError(f"the {self.name} model has no tractable density")


class DiffusionShowerModel(_Generative):
    """EDM denoiser D(x; sigma, E_inc); samplers from models.samplers."""

    name = "diffusion"
    # the best official-classifier AUC per network evaluation in the sampler study (docs)
    default_sampler, default_steps = "dpmpp2m", 8

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        self.denoiser = EDMDenoiser(
            ResidualMLP(self.n_features, 1, config.denoiser), config.denoiser.sigma_data
        )

    def _loss(self, model, x, c):
        standardized, _ = model.preprocessing(x)
        return edm_loss(model.denoiser, standardized, c, model.config.denoiser)

    def _generate(self, energies, generator):
        context = _log_energy(energies)
        sigmas = samplers.karras_sigmas(self.steps, device=energies.device).float()
        x = (
            torch.randn(len(energies), self.n_features, generator=generator, device=energies.device)
            * sigmas[0]
        )
        sampler = samplers.SAMPLERS[self.sampler_name]
        kwargs = {"generator": generator} if self.sampler_name in ("edm", "ddpm", "restart") else {}
        x = sampler(lambda xb, sigma: self.denoiser(xb, sigma, context), x, sigmas, **kwargs)
        return self._decode(x, energies)


class FlowMatchingShowerModel(_Generative):
    """Conditional flow matching v(x, t; E_inc), integrated with Euler or midpoint steps."""

    name = "flow-matching"
    default_sampler, default_steps = "midpoint", 32

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        self.velocity = VelocityField(ResidualMLP(self.n_features, 1, config.denoiser))
        if self.sampler_name not in FLOW_MATCHING_SAMPLERS:
            self.sampler_name = "midpoint"

    def _loss(self, model, x, c):
        standardized, _ = model.preprocessing(x)
        return flow_matching_loss(model.velocity, standardized, c)

    def _generate(self, energies, generator):
        context = _log_energy(energies)
        x = torch.randn(len(energies), self.n_features, generator=generator, device=energies.device)
        times = samplers.uniform_times(self.steps, device=energies.device).float()
        sampler = FLOW_MATCHING_SAMPLERS[self.sampler_name]
        x = sampler(lambda xb, t: self.velocity(xb, t, context), x, times)
        return self._decode(x, energies)


MODELS.update({cls.name: cls for cls in (DiffusionShowerModel, FlowMatchingShowerModel)})
