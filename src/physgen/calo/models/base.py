"""What every calorimeter shower model shares: the conditional-generator contract on showers.

x is (batch, n_voxels) voxel energies in MeV, the condition (batch, 1) the incident energy
in MeV. The physics preprocessing lives here (dequantisation noise below the readout
threshold, zero suppression of generated voxels); each family (calo.models.flows, latent,
diffusion, trees) adds its representation and networks. Samples are never NaN or negative,
and voxels below the zero-suppression cut are zero.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated

import numpy as np
import torch
from pydantic import Field

from physgen.calo.geometry import get_geometry
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.core.training import fit as train_unit
from physgen.models.base import ConditionalGenerator, History, check_batch
from physgen.models.noise import RowNoise

__all__ = [
    "ShowerConfig",
    "ShowerModel",
    "generate_showers",
    "nll_per_dimension",
    "parameter_count",
]


@settings
class ShowerConfig:
    """Settings every shower model has; each family's config adds its own."""

    model: str = "coupling"
    geometry: str = "ds2"  # a built-in geometry (ds1-photons, ds1-pions, ds2, ds3)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # uniform noise added to voxels before training; default: the geometry's threshold
    dequantization_mev: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    # generated voxels below this quantile of the training voxel energies are set to zero
    zero_suppression_quantile: Annotated[float, Field(ge=0, le=1)] | None = 0.01


class ShowerModel(ConditionalGenerator):
    n_conditions = 1

    def __init__(self, config: ShowerConfig):
        super().__init__(config)
        self.geometry = get_geometry(config.geometry)
        self.n_features = self.geometry.n_voxels
        noise = config.dequantization_mev
        self.noise_mev = self.geometry.threshold_mev if noise is None else noise
        self.register_buffer("zero_suppression_mev", torch.tensor(self.geometry.threshold_mev))

    # --- training ----------------------------------------------------------------------
    def fit(self, data, conditions, run=None) -> History:
        """Train on physical showers ``data`` (batch, n_voxels) MeV given incident energies
        ``conditions`` (batch, 1) MeV; with a ``run`` (core.run.Run), checkpoints go there
        and ``run.resume`` continues from them. The model ends on the training device."""
        showers = check_batch(data, "showers", self.geometry.n_voxels)
        incident = check_batch(conditions, "incident energies", 1)[:, 0]
        _check_training_data(showers, incident)
        self.cpu()
        self.fit_zero_suppression(showers)
        history = self._fit(incident, showers, run)
        self.to(self.config.training.device)
        return history

    def _fit(self, incident_mev: torch.Tensor, showers_mev: torch.Tensor, run) -> History:
        raise NotImplementedError

    def _train(self, unit: str, module, loss, tensors, run, training=None) -> dict:
        """One training unit (a flow, a network) through core.training.fit."""
        checkpoints, resume, progress = Run.training_place(run, unit)
        return train_unit(
            module,
            loss,
            tensors,
            training or self.config.training,
            checkpoints,
            resume=resume,
            progress=progress,
            description=f"{self.name}:{unit}",
        )

    def dequantize(self, showers: torch.Tensor, generator=None) -> torch.Tensor:
        noise = torch.rand(showers.shape, generator=generator, dtype=showers.dtype)
        return showers + noise * self.noise_mev

    def fit_zero_suppression(self, showers_mev) -> float:
        """The smallest voxel energy a generated shower keeps: the
        ``zero_suppression_quantile`` of the training showers' non-zero voxel energies (never
        below the geometry's threshold). Voxels the training data do not contain (a blurred
        tail of the dequantisation noise) are then not generated either."""
        cut = self.geometry.threshold_mev
        quantile = self.config.zero_suppression_quantile
        if quantile is not None:
            values = np.asarray(showers_mev, np.float32)
            rows = np.random.default_rng(0).permutation(len(values))[:2000]
            nonzero = values[rows][values[rows] > 0]
            if nonzero.size:
                cut = max(cut, float(np.quantile(nonzero, quantile)))
        self.zero_suppression_mev.fill_(cut)
        return cut

    # --- sampling ----------------------------------------------------------------------
    samplers: tuple[str, ...] = ()  # what --sampler accepts (diffusion, flow matching, trees)

    def choose_sampler(self, sampler: str | None = None, steps: int | None = None) -> None:
        """Set the sampler and its number of steps of the models that have a choice."""
        if not self.samplers:
            raise PhysgenInputError(
                f"--sampler/--steps apply to diffusion, flow-matching and trees models, not to "
                f"{self.name}"
            )
        if sampler is not None:
            if sampler not in self.samplers:
                raise PhysgenInputError(
                    f"sampler '{sampler}' is not available for {self.name}: "
                    f"use one of {', '.join(self.samplers)}"
                )
            self.sampler_name = sampler
        if steps is not None:
            if steps < 1:
                raise PhysgenInputError("the number of sampling steps must be at least 1")
            self.steps = steps

    def _sample(self, conditions: torch.Tensor, noise: RowNoise) -> torch.Tensor:
        return self._clean(self._generate(conditions[:, 0], noise))

    def _generate(self, incident_mev: torch.Tensor, noise: RowNoise) -> torch.Tensor:
        raise NotImplementedError

    def _clean(self, showers: torch.Tensor) -> torch.Tensor:
        showers = torch.nan_to_num(showers, nan=0.0, posinf=0.0, neginf=0.0)
        return torch.where(showers < self.zero_suppression_mev, 0.0, showers)

    # --- persistence -------------------------------------------------------------------
    @classmethod
    def upgrade_payload(cls, payload: dict) -> dict:
        """Models saved by physgen <= 0.1.0: the geometry beside the config, one config for
        every family (the other families' settings are dropped), the trees ensembles beside
        the weights, the layer matrix in the weights."""
        if "format" in payload:
            return payload
        config = dict(payload["config"])
        config["geometry"] = payload["geometry"]
        if "tree_components" in config:
            config["latent_components"] = config.pop("tree_components")
        known = set(cls.config_class.__dataclass_fields__)
        payload["config"] = {k: v for k, v in config.items() if k in known}
        state = payload["state_dict"]
        state.pop("layer_matrix", None)
        for old in ("pca_mean", "pca_components", "pca_scale"):
            if old in state:
                state["pca." + old.removeprefix("pca_")] = state.pop(old)
        if "residual_std" in state:  # one residual width per feature
            width = state.pop("residual_std")
            state["pca.residual_var"] = (width**2).unsqueeze(0)
            state["pca.residual_mean"] = torch.zeros_like(width).unsqueeze(0)
        payload["extra"] = {"trees": payload.pop("trees", None)}
        return payload


def _check_training_data(showers: torch.Tensor, incident: torch.Tensor) -> None:
    if len(showers) != len(incident):
        raise PhysgenInputError(
            f"{len(showers)} showers but {len(incident)} incident energies: one per shower"
        )
    if len(showers) < 2:
        raise PhysgenInputError(f"training needs at least 2 showers, got {len(showers)}")
    if not torch.isfinite(incident).all() or (incident <= 0).any():
        raise PhysgenInputError("incident energies must be finite and positive (MeV)")
    if not torch.isfinite(showers).all() or (showers < 0).any():
        raise PhysgenInputError("voxel energies must be finite and non-negative (MeV)")


def generate_showers(
    model: ShowerModel,
    incident_mev,
    batch_size: int = 1000,
    seed: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """One shower (MeV, float32 numpy) per incident energy (MeV): the numpy edge of
    ``model.sample``. The showers depend on the seed, not on the batch size."""
    energies = np.asarray(incident_mev, np.float32).reshape(-1)
    if energies.size and (not np.isfinite(energies).all() or (energies <= 0).any()):
        raise PhysgenInputError("incident energies must be finite and positive (MeV)")
    generator = torch.Generator().manual_seed(seed)
    conditions = torch.as_tensor(energies).reshape(-1, 1)
    showers = model.sample(conditions, generator, batch_size=batch_size, progress=progress)
    return showers.cpu().numpy()


def nll_per_dimension(flow, x, c) -> torch.Tensor:
    """The flows' training loss: negative log-likelihood per dimension."""
    return -flow.log_prob(x, c).mean() / x.shape[1]


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
