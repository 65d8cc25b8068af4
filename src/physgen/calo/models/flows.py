"""Voxel-level flows: ``coupling`` (CaloINN style, one coupling flow over all voxels) and
``caloflow`` (CaloFlow style: flow I for the layer energies given E_inc, flow II for the
normalised shower given the layer energies, optionally a one-pass student distilled from
flow II). Both learn the layer-energy representation of calo.showers after logit and
standardisation; ``log_prob`` is the density of those variables."""

from __future__ import annotations

from dataclasses import field
from typing import Literal

import torch

from physgen.calo.models.base import ShowerConfig, ShowerModel, nll_per_dimension
from physgen.calo.showers import LayerEnergyRepresentation, log_energy, logit_standardize
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.training import TrainingConfig
from physgen.models.base import check_batch
from physgen.models.flows import ConditionalFlow, FlowConfig, distillation_loss

__all__ = ["FlowShowerConfig", "CouplingShowerModel", "CaloFlowShowerModel"]


@settings
class FlowShowerConfig(ShowerConfig):
    model: Literal["coupling", "caloflow"] = "coupling"
    flow: FlowConfig = field(default_factory=FlowConfig)  # coupling: the flow; caloflow: flow II
    # caloflow flow I: a coupling flow samples in one pass (an NSF needs 45 for ds2: ~100x slower)
    energy_flow: FlowConfig = field(
        default_factory=lambda: FlowConfig(kind="coupling-rqs", transforms=8, hidden=(128, 128))
    )
    # caloflow: a fast-sampling student for flow II (kind "iaf"), distilled from a "maf" flow II
    student: FlowConfig | None = None
    student_training: TrainingConfig | None = None  # default: the teacher's training settings


class _FlowShowerModel(ShowerModel):
    """Flows trained one after the other on the representation of dequantised showers."""

    config_class = FlowShowerConfig

    def __init__(self, config: FlowShowerConfig):
        super().__init__(config)
        self.showers = LayerEnergyRepresentation(self.geometry)

    def _flows(self) -> list[tuple[str, ConditionalFlow]]:
        raise NotImplementedError

    def _training_inputs(self, incident_mev, showers, unit: str):
        raise NotImplementedError

    def _fit(self, incident_mev, showers_mev, run):
        generator = torch.Generator().manual_seed(self.config.training.seed)
        showers = self.dequantize(showers_mev, generator)
        histories, inputs = {}, {}
        for unit, flow in self._flows():
            x, c = inputs[unit] = self._training_inputs(incident_mev, showers, unit)
            flow.preprocessing.fit(x)
            histories[unit] = self._train(unit, flow, nll_per_dimension, (x, c), run)
        self._after_fit(inputs, run, histories)
        return histories

    def _after_fit(self, inputs: dict, run, histories: dict) -> None:
        """Training that follows the flows, on their inputs by unit name (distillation)."""

    def log_prob(self, x, conditions):
        """Sum of the flows' log densities in the model's variables (ratios, shapes)."""
        showers = check_batch(x, "showers", self.geometry.n_voxels).to(self.device)
        incident = check_batch(conditions, "incident energies", 1)[:, 0].to(self.device)
        total = 0
        for unit, flow in self._flows():
            inputs, context = self._training_inputs(incident, showers, unit)
            total = total + flow.log_prob(inputs, context)
        return total


class CouplingShowerModel(_FlowShowerModel):
    """CaloINN style: one conditional coupling flow over (layer-energy ratios, shapes) | E_inc."""

    name = "coupling"

    def __init__(self, config: FlowShowerConfig):
        super().__init__(config)
        n = self.geometry.n_layers + self.geometry.n_voxels
        self.flow = ConditionalFlow(
            n, 1, config.flow, logit_standardize(n), seed=config.training.seed
        )

    def _flows(self):
        return [("flow", self.flow)]

    def _training_inputs(self, incident_mev, showers, unit):
        return self.showers.encode(showers, incident_mev), log_energy(incident_mev)

    def _generate(self, incident_mev, noise):
        sample = self.flow.sample(log_energy(incident_mev), noise)
        return self.showers.decode(sample, incident_mev)


class CaloFlowShowerModel(_FlowShowerModel):
    """CaloFlow style: flow I p(layer-energy ratios | E_inc), flow II p(shapes | E_layer, E_inc)."""

    name = "caloflow"

    def __init__(self, config: FlowShowerConfig):
        super().__init__(config)
        n_layers, n_voxels = self.geometry.n_layers, self.geometry.n_voxels
        seed = config.training.seed
        self.energy_flow = ConditionalFlow(
            n_layers, 1, config.energy_flow, logit_standardize(n_layers), seed=seed
        )
        self.shape_flow = ConditionalFlow(
            n_voxels, 1 + n_layers, config.flow, logit_standardize(n_voxels), seed=seed + 1
        )
        self.student = None
        if config.student is not None:
            if config.flow.kind != "maf" or config.student.kind != "iaf":
                raise PhysgenInputError("distillation needs flow kind 'maf' and student kind 'iaf'")
            self.student = ConditionalFlow(
                n_voxels,
                1 + n_layers,
                config.student,
                self.shape_flow.preprocessing,  # shared: the student lives in the same variables
                seed=seed + 2,
            )

    def _flows(self):
        return [("energy_flow", self.energy_flow), ("shape_flow", self.shape_flow)]

    def _after_fit(self, inputs, run, histories) -> None:
        """With a student: flow II's fast student by distillation on flow II's inputs."""
        if self.student is None:
            return
        teacher = self.shape_flow.requires_grad_(False)
        histories["student"] = self._train(
            "student",
            self.student,
            lambda student, xb, cb: distillation_loss(teacher, student, xb, cb),
            inputs["shape_flow"],
            run,
            self.config.student_training,
        )
        teacher.requires_grad_(True)

    def _shape_context(self, e_layer, incident_mev):
        return torch.cat([log_energy(incident_mev), torch.log10(e_layer + 1e-3) / 3], 1)

    def _training_inputs(self, incident_mev, showers, unit):
        e_layer = self.showers.layer_energies(showers)
        if unit == "energy_flow":
            return self.showers.energy_ratios(e_layer, incident_mev), log_energy(incident_mev)
        return self.showers.shapes(showers, e_layer), self._shape_context(e_layer, incident_mev)

    def _generate(self, incident_mev, noise):
        ratios = self.energy_flow.sample(log_energy(incident_mev), noise).clamp(0, 1)
        e_layer = self.showers.layers_from_ratios(ratios, incident_mev)
        shape_flow = self.student if self.student is not None else self.shape_flow
        shape = shape_flow.sample(self._shape_context(e_layer, incident_mev), noise)
        return self.showers.assemble(ratios, shape, incident_mev)
