"""Shower models in a compressed latent space: the shared ``LatentRepresentation`` and
``latent-flow``.

A voxel-level flow for dataset 2 has 6,525 dimensions and, trained on a few thousand showers,
learns the dequantisation noise of the empty voxels rather than the showers (the ``caloflow``
and ``coupling`` rows of docs/benchmarks.md). CaloINN's answer for datasets 2 and 3 (Ernst et
al., arXiv:2312.09290) is an invertible network in the latent space of an autoencoder. Here the
autoencoder is linear: a preprocessed representation of the shower is projected on its
``latent_components`` leading principal directions (models.pca.ProbabilisticPCA, whitened;
optionally the layer-energy ratios stay beside them uncompressed); a generative model learns
that latent vector given log E_inc, and decoding adds the discarded directions back as
Gaussian noise of their measured variance. ``trees`` (calo.models.trees) and ``latent-flow``
share this space.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field

from physgen.calo.models.base import ShowerConfig, ShowerModel, nll_per_dimension
from physgen.calo.showers import LayerEnergyRepresentation, log_energy, logit_standardize
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.models.flows import ConditionalFlow, FlowConfig
from physgen.models.pca import ProbabilisticPCA
from physgen.models.preprocessing import Chain, Log, MarginalGaussianize

__all__ = ["LatentConfig", "LatentFlowConfig", "LatentRepresentation", "LatentFlowShowerModel"]


@settings
class LatentConfig(ShowerConfig):
    # leading principal components of the preprocessed showers
    latent_components: Annotated[int, Field(ge=1)] = 64


@settings
class LatentFlowConfig(LatentConfig):
    model: Literal["latent-flow"] = "latent-flow"
    flow: FlowConfig = field(default_factory=FlowConfig)
    # marginal-Gaussianisation tables per bin of equal counts in E_inc
    marginal_bins: Annotated[int, Field(ge=1)] = 1


class LatentRepresentation(ShowerModel):
    """Showers <-> latent vectors: the first ``n_exact`` preprocessed features as they are,
    then the whitened principal-component coefficients of the other preprocessed features.
    Subclasses choose the representation (default: the layer-energy ratios and per-layer
    shapes of dequantised showers, all compressed) and its preprocessing."""

    exact_layer_energies = False  # keep the layer-energy ratios out of the compression
    energy_dependent_residual = False  # residual mean and width linear in log E_inc

    def __init__(self, config: LatentConfig):
        super().__init__(config)
        self.showers = LayerEnergyRepresentation(self.geometry)
        n_features = self.geometry.n_layers + self.geometry.n_voxels
        self.n_exact = self.geometry.n_layers if self.exact_layer_energies else 0
        self.preprocessing = self._preprocessing(n_features)
        self.pca = ProbabilisticPCA(
            n_features - self.n_exact,
            config.latent_components,
            conditions=1 if self.energy_dependent_residual else 0,
        )

    def _preprocessing(self, features: int) -> Chain:
        return logit_standardize(features)

    def _dequantized_representation(self, incident_mev, showers, generator) -> torch.Tensor:
        return self.showers.encode(self.dequantize(showers, generator), incident_mev)

    @property
    def latent_features(self) -> int:
        return self.n_exact + self.pca.n_components

    def _fit_latent(self, incident_mev, showers_mev) -> tuple[torch.Tensor, torch.Tensor, float]:
        """Fit the preprocessing and the principal directions on dequantised training showers;
        returns (log E_inc, latent vectors, fraction of the compressed features' variance that
        the components explain)."""
        energies = torch.as_tensor(incident_mev, dtype=torch.float32)
        showers = torch.as_tensor(showers_mev, dtype=torch.float32)
        if self.pca.n_components > len(showers):
            raise PhysgenInputError(
                f"latent_components = {self.config.latent_components} needs at least that many "
                f"training showers and features ({len(showers)} showers, "
                f"{self.pca.mean.numel()} features): lower it in the config"
            )
        generator = torch.Generator().manual_seed(self.config.training.seed)
        x = self._dequantized_representation(energies, showers, generator)
        condition = log_energy(energies)
        self.preprocessing.fit(x, condition)
        with torch.no_grad():
            u, _ = self.preprocessing(x, condition)
            explained = self.pca.fit(
                u[:, self.n_exact :], self.config.training.seed, self._residual_condition(energies)
            )
            return condition, self._encode(u), explained

    def _residual_condition(self, incident_mev) -> torch.Tensor | None:
        return log_energy(incident_mev) if self.energy_dependent_residual else None

    def _encode(self, u: torch.Tensor) -> torch.Tensor:
        return torch.cat([u[:, : self.n_exact], self.pca.encode(u[:, self.n_exact :])], 1)

    def _showers_from_latent(self, latent, incident_mev, noise) -> torch.Tensor:
        condition = self._residual_condition(incident_mev)
        compressed = self.pca.decode(latent[:, self.n_exact :], noise, condition)
        u = torch.cat([latent[:, : self.n_exact], compressed], 1)
        x = self.preprocessing.inverse(u, log_energy(incident_mev))
        return self.showers.decode(x, incident_mev)

    @torch.no_grad()
    def round_trip(self, incident_mev, showers_mev, seed: int = 0) -> np.ndarray:
        """Fit the latent space (zero suppression, preprocessing, components) on these showers
        and return them encoded and decoded with the residual noise: what a perfect model of
        the latent vectors would generate (benchmarks/latent_ceiling.py)."""
        self.fit_zero_suppression(showers_mev)
        _, latent, _ = self._fit_latent(incident_mev, showers_mev)
        energies = torch.as_tensor(incident_mev, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed + 1)
        return self._clean(self._showers_from_latent(latent, energies, generator)).numpy()


class LatentFlowShowerModel(LatentRepresentation):
    """CaloINN style for high-dimensional showers: a conditional flow (``flow``; a coupling
    RQS flow by default) on (layer-energy ratios, whitened principal-component coefficients
    of the voxel energies) given log E_inc.

    Three choices made it work on the ds2 benchmark files (docs/benchmarks.md):
    - every feature is mapped to a standard normal through its empirical CDF
      (MarginalGaussianize) before the compression, so the probabilistic-PCA noise keeps each
      voxel's energy spectrum and occupancy (a Gaussian copula); with ``marginal_bins`` > 1
      the CDF is that of the shower's bin of E_inc, so it keeps them at each energy (with one
      CDF for all energies the noise hits edge voxels at 1-3 GeV at the all-energy rate);
    - the compressed variables are voxel energies in MeV, not fractions of the layer energy:
      the dequantisation noise of an empty voxel is then the same in every shower, while as a
      fraction it scales with 1/E_layer, and the independent residual noise turned the empty
      voxels of low-energy layers into 0.5-2 MeV deposits in high-energy ones.
    The layer-energy ratios stay out of the compression and take one voxel's noise, not 144
    voxels' (~1 MeV, as much as the last layers hold). The residual's mean and width are
    linear in log E_inc (its variance runs from 0.81 at 1-2.6 GeV to 1.06 at 38-100 GeV).
    The showers have no tractable density (the decoder adds noise); ``latent_log_prob`` is
    the flow's density of their latent vectors."""

    name = "latent-flow"
    config_class = LatentFlowConfig
    exact_layer_energies = True
    energy_dependent_residual = True

    def __init__(self, config: LatentFlowConfig):
        super().__init__(config)
        self.flow = ConditionalFlow(self.latent_features, 1, config.flow, seed=config.training.seed)

    def _preprocessing(self, features: int) -> Chain:
        return Chain(Log(1e-6), MarginalGaussianize(features, bins=self.config.marginal_bins))

    def _dequantized_representation(self, incident_mev, showers, generator) -> torch.Tensor:
        layer_noise = torch.rand(len(showers), self.geometry.n_layers, generator=generator)
        e_layer = self.showers.layer_energies(showers) + layer_noise * self.noise_mev
        voxels = self.dequantize(showers, generator)
        return torch.cat([self.showers.energy_ratios(e_layer, incident_mev), voxels], 1)

    def _fit(self, incident_mev, showers_mev, run):
        condition, latent, explained = self._fit_latent(incident_mev, showers_mev)
        history = self._train("flow", self.flow, nll_per_dimension, (latent, condition), run)
        return {"flow": {**history, "explained_variance": explained}}

    def _generate(self, incident_mev, noise):
        z = self.flow.sample(log_energy(incident_mev), noise)
        return self._showers_from_latent(z, incident_mev, noise)

    @torch.no_grad()
    def latent_log_prob(self, showers_mev, incident_mev, seed: int = 0) -> torch.Tensor:
        """log density under the flow of the showers' latent vectors (for one draw of the
        dequantisation noise)."""
        energies = torch.as_tensor(incident_mev, dtype=torch.float32).reshape(-1)
        showers = torch.as_tensor(showers_mev, dtype=torch.float32)
        generator = torch.Generator().manual_seed(seed)
        condition = log_energy(energies)
        x = self._dequantized_representation(energies, showers, generator)
        u, _ = self.preprocessing(x, condition)
        return self.flow.log_prob(self._encode(u), condition)
