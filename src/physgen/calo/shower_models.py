"""Calorimeter shower surrogates on physgen's flows: ``coupling`` (CaloINN style, one
coupling flow over all voxels) and ``caloflow`` (CaloFlow style: flow I for the layer
energies given E_inc, flow II for the normalised shower given the layer energies).

Every model takes and returns physical showers (MeV). The physics preprocessing lives here
(energy normalisation, dequantisation noise below the readout threshold); the generic
invertible part (logit, standardisation) lives in the flow. Samples are never NaN or
negative, and voxels below the geometry's threshold are zero.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from physgen.calo.geometry import Geometry, get_geometry
from physgen.core.atomic import atomic_path
from physgen.core.config import from_dict
from physgen.core.training import TrainingConfig, fit
from physgen.models.diffusion import DenoiserConfig
from physgen.models.flows import ConditionalFlow, FlowConfig, distillation_loss
from physgen.models.preprocessing import Chain, Logit, Standardize
from physgen.models.trees import TreeConfig

LOG_E_CENTRE, LOG_E_SCALE = 4.0, 1.5  # log10(MeV) of 10 GeV, and a scale of 1.5 decades
TOTAL_ENERGY_CAP = 1.5  # E_tot / E_inc is bounded by this in the flow I representation


@dataclass(frozen=True)
class ShowerModelConfig:
    model: str = "coupling"
    flow: FlowConfig = field(default_factory=FlowConfig)
    # flow I: a coupling flow samples in one pass (an NSF needs 45 for ds2: ~100x slower)
    energy_flow: FlowConfig = field(
        default_factory=lambda: FlowConfig(kind="coupling-rqs", transforms=8, hidden=(128, 128))
    )
    training: TrainingConfig = field(default_factory=TrainingConfig)
    # caloflow: a fast-sampling student for flow II (kind "iaf"), distilled from a "maf" flow II
    student: FlowConfig | None = None
    student_training: TrainingConfig | None = None  # default: the teacher's training settings
    dequantization_mev: float | None = None  # uniform noise on voxels; default: the threshold
    # generated voxels below this quantile of the training voxel energies are set to zero
    zero_suppression_quantile: float | None = 0.01
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    trees: TreeConfig = field(default_factory=TreeConfig)  # the "trees" model
    # "trees", "latent-flow": leading principal components of the preprocessed showers
    latent_components: int = 64
    # "latent-flow": marginal-Gaussianisation tables per bin of equal counts in E_inc
    marginal_bins: int = 1
    # generation defaults (generate --sampler / --steps override); None: the model's own
    # (diffusion: DPM-Solver++(2M), 8 noise levels, from benchmarks/sampler_study.py;
    # flow matching: midpoint, 32 time steps)
    sampler: str | None = None
    steps: int | None = None


def _log_energy(incident_mev: torch.Tensor) -> torch.Tensor:
    return ((torch.log10(incident_mev) - LOG_E_CENTRE) / LOG_E_SCALE).unsqueeze(1)


def _logit_standardize(features: int) -> Chain:
    return Chain(Logit(1e-6), Standardize(features))


class ShowerModel(nn.Module):
    """Shared contract: fit, sample, log_prob, save, load."""

    name = "base"

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__()
        self.geometry, self.config = geometry, config
        noise = config.dequantization_mev
        self.noise_mev = geometry.threshold_mev if noise is None else noise
        self.register_buffer("zero_suppression_mev", torch.tensor(geometry.threshold_mev))

    # --- subclass hooks --------------------------------------------------------------
    def _flows(self) -> list[tuple[str, ConditionalFlow]]:
        raise NotImplementedError

    def _training_inputs(self, energies, showers, flow_name: str):
        raise NotImplementedError

    def _generate(self, energies: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    # --- contract --------------------------------------------------------------------
    def dequantize(self, showers: torch.Tensor, generator=None) -> torch.Tensor:
        noise = torch.rand(showers.shape, generator=generator, dtype=showers.dtype)
        return showers + noise * self.noise_mev

    def fit(
        self,
        incident_mev: np.ndarray,
        showers_mev: np.ndarray,
        run_dir=None,
        resume: bool = False,
        progress: bool = True,
    ) -> dict:
        """Train every flow of the model on physical showers (MeV)."""
        energies = torch.as_tensor(np.asarray(incident_mev, np.float32))
        generator = torch.Generator().manual_seed(self.config.training.seed)
        self.fit_zero_suppression(showers_mev)
        showers = self.dequantize(torch.as_tensor(np.asarray(showers_mev, np.float32)), generator)
        histories, inputs = {}, {}
        for flow_name, flow in self._flows():
            x, c = inputs[flow_name] = self._training_inputs(energies, showers, flow_name)
            flow.preprocessing.fit(x)
            flow_dir = Path(run_dir) / flow_name if run_dir is not None else None
            histories[flow_name] = fit(
                flow,
                self._loss,
                (x, c),
                self.config.training,
                flow_dir,
                resume,
                progress,
                description=f"{self.name}:{flow_name}",
            )
        self._after_fit(inputs, run_dir, resume, progress, histories)
        return histories

    def _after_fit(self, inputs: dict, run_dir, resume: bool, progress: bool, histories) -> None:
        """Training that follows the flows on their inputs (x, c) by name (distillation)."""

    @staticmethod
    def _loss(model, x, c):
        """Negative log-likelihood per dimension (flows); generative models override it."""
        return -model.log_prob(x, c).mean() / x.shape[1]

    @torch.no_grad()
    def sample(
        self, incident_mev, batch_size: int = 1000, seed: int = 0, progress: bool = False
    ) -> np.ndarray:
        """One shower (MeV, float32) per incident energy (MeV)."""
        from tqdm import tqdm

        self.eval()
        device = next(itertools.chain(self.parameters(), self.buffers())).device
        energies = torch.as_tensor(np.asarray(incident_mev, np.float32)).reshape(-1)
        generator = torch.Generator(device=device).manual_seed(seed)
        out = np.empty((len(energies), self.geometry.n_voxels), np.float32)
        for begin in tqdm(
            range(0, len(energies), batch_size),
            disable=not progress,
            desc="generating",
            unit="batch",
        ):
            batch = energies[begin : begin + batch_size].to(device)
            showers = self._clean(self._generate(batch, generator))
            out[begin : begin + len(batch)] = showers.cpu().numpy()
        return out

    def fit_zero_suppression(self, showers_mev: np.ndarray) -> float:
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

    def _clean(self, showers: torch.Tensor) -> torch.Tensor:
        showers = torch.nan_to_num(showers, nan=0.0, posinf=0.0, neginf=0.0)
        return torch.where(showers < self.zero_suppression_mev, 0.0, showers)

    def save(self, path) -> None:
        payload = {
            "model": self.name,
            "geometry": self.geometry.name,
            "config": asdict(self.config),
            "state_dict": self.state_dict(),
            **self._extra_payload(),
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @staticmethod
    def load(path) -> ShowerModel:
        payload = _upgrade_payload(torch.load(path, map_location="cpu", weights_only=False))
        config = from_dict(ShowerModelConfig, payload["config"], str(path))
        model = build_model(get_geometry(payload["geometry"]), config)
        state = payload["state_dict"]
        state.setdefault("zero_suppression_mev", model.zero_suppression_mev)  # older files
        model.load_state_dict(state)
        model._load_extra(payload)
        model.eval()
        return model

    def _extra_payload(self) -> dict:
        """What a model saves besides its torch state (e.g. fitted tree ensembles)."""
        return {}

    def _load_extra(self, payload: dict) -> None:
        pass


class _LayerEnergyRepresentation(ShowerModel):
    """Showers as (layer-energy ratios, per-layer normalised shapes), as in CaloFlow/CaloINN.

    Ratios: E_tot / (1.5 E_inc) and E_i / sum_{j >= i} E_j, all in [0, 1]; shapes:
    voxel / E_layer in [0, 1]. Decoding renormalises each sampled layer shape to sum to one,
    so the layer energies come from the ratios alone.
    """

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        matrix = torch.zeros(geometry.n_voxels, geometry.n_layers)
        for index, sl in enumerate(geometry.layer_slices):
            matrix[sl, index] = 1
        self.register_buffer("layer_matrix", matrix)

    def _representation(self, energies, showers):
        """(layer-energy ratios, per-layer shapes) of physical showers, one row each."""
        e_layer = self._layer_energies(showers)
        return torch.cat(
            [self._energy_ratios(e_layer, energies), self._shapes(showers, e_layer)], 1
        )

    def _layer_energies(self, showers):
        return showers @ self.layer_matrix

    @staticmethod
    def _energy_ratios(e_layer, energies):
        remaining = torch.flip(torch.cumsum(torch.flip(e_layer, [1]), 1), [1])
        ratios = e_layer[:, :-1] / remaining[:, :-1].clamp_min(1e-12)
        first = remaining[:, :1] / (TOTAL_ENERGY_CAP * energies[:, None])
        return torch.cat([first, ratios], 1).clamp(0, 1)

    @staticmethod
    def _layers_from_ratios(ratios, energies):
        remaining = ratios[:, 0] * TOTAL_ENERGY_CAP * energies
        layers = []
        for index in range(1, ratios.shape[1]):
            layer = ratios[:, index] * remaining
            layers.append(layer)
            remaining = remaining - layer
        layers.append(remaining)
        return torch.stack(layers, 1).clamp_min(0)

    def _shapes(self, showers, e_layer):
        return (showers / (e_layer @ self.layer_matrix.T).clamp_min(1e-12)).clamp(0, 1)

    def _assemble(self, ratios, shape, energies):
        """Showers from layer-energy ratios and non-negative per-voxel weights (normalised
        shapes or energies: each layer is renormalised to its energy)."""
        e_layer = self._layers_from_ratios(ratios.clamp(0, 1), energies)
        shape = shape.clamp_min(0)
        sums = (shape @ self.layer_matrix) @ self.layer_matrix.T
        return shape / sums.clamp_min(1e-12) * (e_layer @ self.layer_matrix.T)

    def log_prob(self, showers_mev, incident_mev):
        """Sum of the flows' log densities in the model's variables (ratios, shapes)."""
        lp = 0
        for name, flow in self._flows():
            x, c = self._training_inputs(incident_mev, showers_mev, name)
            lp = lp + flow.log_prob(x, c)
        return lp


class CouplingShowerModel(_LayerEnergyRepresentation):
    """CaloINN style: one conditional coupling flow over (layer-energy ratios, shapes) | E_inc."""

    name = "coupling"

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        n = geometry.n_layers + geometry.n_voxels
        self.flow = ConditionalFlow(
            n, 1, config.flow, _logit_standardize(n), seed=config.training.seed
        )

    def _flows(self):
        return [("flow", self.flow)]

    def _training_inputs(self, energies, showers, flow_name):
        return self._representation(energies, showers), _log_energy(energies)

    def _generate(self, energies, generator):
        sample = self.flow.sample(_log_energy(energies), generator)
        n_layers = self.geometry.n_layers
        return self._assemble(sample[:, :n_layers], sample[:, n_layers:], energies)


class CaloFlowShowerModel(_LayerEnergyRepresentation):
    """CaloFlow style: flow I p(layer-energy ratios | E_inc), flow II p(shapes | E_layer, E_inc)."""

    name = "caloflow"

    def __init__(self, geometry: Geometry, config: ShowerModelConfig):
        super().__init__(geometry, config)
        n_layers = geometry.n_layers
        self.energy_flow = ConditionalFlow(
            n_layers, 1, config.energy_flow, _logit_standardize(n_layers), seed=config.training.seed
        )
        self.shape_flow = ConditionalFlow(
            geometry.n_voxels,
            1 + n_layers,
            config.flow,
            _logit_standardize(geometry.n_voxels),
            seed=config.training.seed + 1,
        )

        self.student = None
        if config.student is not None:
            if config.flow.kind != "maf" or config.student.kind != "iaf":
                raise ValueError("distillation needs flow kind 'maf' and student kind 'iaf'")
            self.student = ConditionalFlow(
                geometry.n_voxels,
                1 + n_layers,
                config.student,
                self.shape_flow.preprocessing,  # shared: the student lives in the same variables
                seed=config.training.seed + 2,
            )

    def _flows(self):
        return [("energy_flow", self.energy_flow), ("shape_flow", self.shape_flow)]

    def _after_fit(self, inputs, run_dir, resume, progress, histories) -> None:
        """With a student: flow II's fast student by distillation on flow II's inputs."""
        if self.student is None:
            return
        teacher = self.shape_flow.requires_grad_(False)
        histories["student"] = fit(
            self.student,
            lambda student, xb, cb: distillation_loss(teacher, student, xb, cb),
            inputs["shape_flow"],
            self.config.student_training or self.config.training,
            Path(run_dir) / "student" if run_dir is not None else None,
            resume,
            progress,
            description=f"{self.name}:student",
        )
        teacher.requires_grad_(True)

    def _shape_context(self, e_layer, energies):
        return torch.cat([_log_energy(energies), torch.log10(e_layer + 1e-3) / 3], 1)

    def _training_inputs(self, energies, showers, flow_name):
        e_layer = self._layer_energies(showers)
        if flow_name == "energy_flow":
            return self._energy_ratios(e_layer, energies), _log_energy(energies)
        return self._shapes(showers, e_layer), self._shape_context(e_layer, energies)

    def _generate(self, energies, generator):
        ratios = self.energy_flow.sample(_log_energy(energies), generator).clamp(0, 1)
        e_layer = self._layers_from_ratios(ratios, energies)
        shape_flow = self.student if self.student is not None else self.shape_flow
        shape = shape_flow.sample(self._shape_context(e_layer, energies), generator)
        return self._assemble(ratios, shape, energies)


MODELS = {cls.name: cls for cls in (CouplingShowerModel, CaloFlowShowerModel)}


def _upgrade_payload(payload: dict) -> dict:
    """Saved models of physgen <= 0.1.0 (trees: ``tree_components``, ``pca_*`` buffers and
    one residual width per feature)."""
    config, state = payload["config"], payload["state_dict"]
    if "tree_components" in config:
        config["latent_components"] = config.pop("tree_components")
    for old in ("pca_mean", "pca_components", "pca_scale"):
        if old in state:
            state["pca." + old.removeprefix("pca_")] = state.pop(old)
    if "residual_std" in state:
        width = state.pop("residual_std")
        state["pca.residual_var"] = (width**2).unsqueeze(0)
        state["pca.residual_mean"] = torch.zeros_like(width).unsqueeze(0)
    return payload


def build_model(geometry: Geometry, config: ShowerModelConfig) -> ShowerModel:
    if not MODELS.keys() >= {"diffusion", "flow-matching", "trees", "latent-flow"}:
        from physgen.calo import diffusion_models, latent_models, tree_model  # noqa: F401

    if config.model not in MODELS:
        from physgen.core.errors import PhysgenInputError

        raise PhysgenInputError(f"unknown model '{config.model}': use one of {', '.join(MODELS)}")
    # initial weights from the training seed (the same model for the same config), without
    # touching the caller's random state
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.training.seed)
        return MODELS[config.model](geometry, config)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "ShowerModelConfig",
    "ShowerModel",
    "CouplingShowerModel",
    "CaloFlowShowerModel",
    "build_model",
    "MODELS",
    "parameter_count",
]
