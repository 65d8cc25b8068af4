"""A parametric detector response for particle-level jets (a documented toy, not a simulation).

Jet pT is smeared with the calorimeter-style resolution
    sigma(pT) / pT = sqrt((N / pT)^2 + S^2 / pT + C^2),  N = 3 GeV, S = 0.8 sqrt(GeV), C = 0.03,
a jet-energy-scale offset of -2%, eta and phi with a Gaussian of 0.02 and the mass with 10%
(values typical of the LHC general-purpose detectors; no acceptance losses are modelled).
"""

from __future__ import annotations

import numpy as np

from physgen.jets.kinematics import wrap_phi

__all__ = ["DetectorParameters", "smear_jets"]


class DetectorParameters:
    noise_gev = 3.0
    stochastic = 0.8
    constant = 0.03
    scale = 0.98
    angular = 0.02
    mass_relative = 0.10


def smear_jets(jets: np.ndarray, rng: np.random.Generator, parameters=DetectorParameters):
    """jets: (n, 4) array of pt, eta, phi, m in GeV; returns the detector-level jets."""
    pt, eta, phi, mass = jets.T
    relative = np.sqrt(
        (parameters.noise_gev / pt) ** 2 + parameters.stochastic**2 / pt + parameters.constant**2
    )
    smeared_pt = pt * parameters.scale * (1 + relative * rng.standard_normal(len(pt)))
    smeared = np.stack(
        [
            np.maximum(smeared_pt, 0.0),
            eta + parameters.angular * rng.standard_normal(len(pt)),
            wrap_phi(phi + parameters.angular * rng.standard_normal(len(pt))),
            np.maximum(mass * (1 + parameters.mass_relative * rng.standard_normal(len(pt))), 0),
        ],
        axis=1,
    )
    return smeared.astype(np.float32)
