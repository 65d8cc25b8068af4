"""The emulation features of Kronheim et al. (arXiv:2111.11415): jets <-> network variables.

Inputs (parton jet): log pT, eta, phi, log(m + 2). Outputs (emulated jet), as responses to
the input: pT'/pT, eta' - eta, phi' - phi (wrapped), log(m' + 2). The +2 GeV keeps the log
finite for massless jets. Both maps are exact inverses of each other. The ``*_tensor``
functions are the torch implementation (float64 inside, float32 out) that the emulator model
uses; the plain names take and return numpy arrays.
"""

from __future__ import annotations

import numpy as np
import torch

from physgen.jets.kinematics import wrap_phi

__all__ = [
    "input_features",
    "target_features",
    "jets_from_targets",
    "input_features_tensor",
    "target_features_tensor",
    "jets_from_targets_tensor",
    "INPUT_NAMES",
    "TARGET_NAMES",
]

INPUT_NAMES = ("log_pt", "eta", "phi", "log_m_plus_2")
TARGET_NAMES = ("pt_response", "delta_eta", "delta_phi", "log_m_plus_2")
MASS_OFFSET_GEV = 2.0


def input_features_tensor(parton_jets: torch.Tensor) -> torch.Tensor:
    pt, eta, phi, mass = parton_jets.double().T
    return torch.stack([pt.log(), eta, phi, (mass + MASS_OFFSET_GEV).log()], 1).float()


def target_features_tensor(parton_jets: torch.Tensor, jets: torch.Tensor) -> torch.Tensor:
    pt, eta, phi, _ = parton_jets.double().T
    pt2, eta2, phi2, mass2 = jets.double().T
    return torch.stack(
        [pt2 / pt, eta2 - eta, wrap_phi(phi2 - phi), (mass2 + MASS_OFFSET_GEV).log()], 1
    ).float()


def jets_from_targets_tensor(parton_jets: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Jets (pt, eta, phi, m) from target features; pT and m are clipped at zero."""
    pt, eta, phi, _ = parton_jets.double().T
    response, delta_eta, delta_phi, log_mass = targets.double().T
    return torch.stack(
        [
            (pt * response).clamp_min(0.0),
            eta + delta_eta,
            wrap_phi(phi + delta_phi),
            (log_mass.exp() - MASS_OFFSET_GEV).clamp_min(0.0),
        ],
        1,
    ).float()


def input_features(parton_jets: np.ndarray) -> np.ndarray:
    return input_features_tensor(torch.as_tensor(np.asarray(parton_jets))).numpy()


def target_features(parton_jets: np.ndarray, jets: np.ndarray) -> np.ndarray:
    parton, jets = torch.as_tensor(np.asarray(parton_jets)), torch.as_tensor(np.asarray(jets))
    return target_features_tensor(parton, jets).numpy()


def jets_from_targets(parton_jets: np.ndarray, targets: np.ndarray) -> np.ndarray:
    parton, targets = torch.as_tensor(np.asarray(parton_jets)), torch.as_tensor(np.asarray(targets))
    return jets_from_targets_tensor(parton, targets).numpy()
