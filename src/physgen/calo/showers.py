"""Showers as the variables the calorimeter models learn: log incident energy, layer-energy
ratios and per-layer shapes (CaloFlow / CaloINN), and back.

Ratios: E_tot / (1.5 E_inc) and E_i / sum_{j >= i} E_j, all in [0, 1]; shapes: voxel /
E_layer in [0, 1]. ``assemble`` renormalises each sampled layer to its energy, so the layer
energies of a decoded shower come from the ratios alone. All tensors are (batch, ...) in MeV.
"""

from __future__ import annotations

import torch
from torch import nn

from physgen.calo.geometry import Geometry
from physgen.models.preprocessing import Chain, Logit, Standardize

__all__ = [
    "LOG_E_CENTRE",
    "LOG_E_SCALE",
    "TOTAL_ENERGY_CAP",
    "log_energy",
    "logit_standardize",
    "LayerEnergyRepresentation",
]

LOG_E_CENTRE, LOG_E_SCALE = 4.0, 1.5  # log10(MeV) of 10 GeV, and a scale of 1.5 decades
TOTAL_ENERGY_CAP = 1.5  # E_tot / E_inc is bounded by this in the ratio representation


def log_energy(incident_mev: torch.Tensor) -> torch.Tensor:
    """The models' condition: (batch, 1) standardised log10 of the incident energy."""
    return ((torch.log10(incident_mev.reshape(-1)) - LOG_E_CENTRE) / LOG_E_SCALE).unsqueeze(1)


def logit_standardize(features: int) -> Chain:
    return Chain(Logit(1e-6), Standardize(features))


class LayerEnergyRepresentation(nn.Module):
    """Layer sums, ratios and shapes of showers of one geometry (a module: its layer matrix
    moves with the model)."""

    def __init__(self, geometry: Geometry):
        super().__init__()
        self.n_layers, self.n_voxels = geometry.n_layers, geometry.n_voxels
        matrix = torch.zeros(geometry.n_voxels, geometry.n_layers)
        for index, sl in enumerate(geometry.layer_slices):
            matrix[sl, index] = 1
        self.register_buffer("layer_matrix", matrix, persistent=False)  # from the geometry

    def encode(self, showers: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        """(layer-energy ratios, per-layer shapes) of physical showers, one row each."""
        e_layer = self.layer_energies(showers)
        return torch.cat(
            [self.energy_ratios(e_layer, incident_mev), self.shapes(showers, e_layer)], 1
        )

    def layer_energies(self, showers: torch.Tensor) -> torch.Tensor:
        return showers @ self.layer_matrix

    @staticmethod
    def energy_ratios(e_layer: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        remaining = torch.flip(torch.cumsum(torch.flip(e_layer, [1]), 1), [1])
        ratios = e_layer[:, :-1] / remaining[:, :-1].clamp_min(1e-12)
        first = remaining[:, :1] / (TOTAL_ENERGY_CAP * incident_mev.reshape(-1, 1))
        return torch.cat([first, ratios], 1).clamp(0, 1)

    @staticmethod
    def layers_from_ratios(ratios: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        remaining = ratios[:, 0] * TOTAL_ENERGY_CAP * incident_mev.reshape(-1)
        layers = []
        for index in range(1, ratios.shape[1]):
            layer = ratios[:, index] * remaining
            layers.append(layer)
            remaining = remaining - layer
        layers.append(remaining)
        return torch.stack(layers, 1).clamp_min(0)

    def shapes(self, showers: torch.Tensor, e_layer: torch.Tensor) -> torch.Tensor:
        return (showers / (e_layer @ self.layer_matrix.T).clamp_min(1e-12)).clamp(0, 1)

    def assemble(self, ratios, weights, incident_mev) -> torch.Tensor:
        """Showers from layer-energy ratios and non-negative per-voxel weights (normalised
        shapes or energies: each layer is renormalised to its energy)."""
        e_layer = self.layers_from_ratios(ratios.clamp(0, 1), incident_mev)
        weights = weights.clamp_min(0)
        sums = (weights @ self.layer_matrix) @ self.layer_matrix.T
        return weights / sums.clamp_min(1e-12) * (e_layer @ self.layer_matrix.T)

    def decode(self, x: torch.Tensor, incident_mev: torch.Tensor) -> torch.Tensor:
        """Showers from rows of (ratios, weights), the layout of ``encode``."""
        return self.assemble(x[:, : self.n_layers], x[:, self.n_layers :], incident_mev)
