"""The emulation features of Kronheim et al. (arXiv:2111.11415): jets <-> network variables.

Inputs (parton jet): log pT, eta, phi, log(m + 2). Outputs (emulated jet), as responses to
the input: pT'/pT, eta' - eta, phi' - phi (wrapped), log(m' + 2). The +2 GeV keeps the log
finite for massless jets. Both maps are exact inverses of each other.
"""

from __future__ import annotations

import numpy as np

from physgen.jets.kinematics import wrap_phi

__all__ = ["input_features", "target_features", "jets_from_targets", "INPUT_NAMES", "TARGET_NAMES"]

INPUT_NAMES = ("log_pt", "eta", "phi", "log_m_plus_2")
TARGET_NAMES = ("pt_response", "delta_eta", "delta_phi", "log_m_plus_2")
MASS_OFFSET_GEV = 2.0


def input_features(parton_jets: np.ndarray) -> np.ndarray:
    pt, eta, phi, mass = parton_jets.T.astype(np.float64)
    return np.stack([np.log(pt), eta, phi, np.log(mass + MASS_OFFSET_GEV)], 1).astype(np.float32)


def target_features(parton_jets: np.ndarray, jets: np.ndarray) -> np.ndarray:
    pt, eta, phi, _ = parton_jets.T.astype(np.float64)
    pt2, eta2, phi2, mass2 = jets.T.astype(np.float64)
    return np.stack(
        [pt2 / pt, eta2 - eta, wrap_phi(phi2 - phi), np.log(mass2 + MASS_OFFSET_GEV)], 1
    ).astype(np.float32)


def jets_from_targets(parton_jets: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Jets (pt, eta, phi, m) from target features; pT and m are clipped at zero."""
    pt, eta, phi, _ = parton_jets.T.astype(np.float64)
    response, delta_eta, delta_phi, log_mass = targets.T.astype(np.float64)
    return np.stack(
        [
            np.maximum(pt * response, 0.0),
            eta + delta_eta,
            wrap_phi(phi + delta_phi),
            np.maximum(np.exp(log_mass) - MASS_OFFSET_GEV, 0.0),
        ],
        1,
    ).astype(np.float32)
