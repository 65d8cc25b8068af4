"""(pT, eta, phi, m) from four-momenta, angular distances; works on numpy and awkward arrays."""

from __future__ import annotations

import numpy as np

__all__ = ["pt_eta_phi_m", "wrap_phi", "delta_r"]


def wrap_phi(phi):
    """Angle in [-pi, pi)."""
    return (phi + np.pi) % (2 * np.pi) - np.pi


def pt_eta_phi_m(px, py, pz, e):
    pt = np.hypot(px, py)
    eta = np.arcsinh(pz / np.maximum(pt, 1e-12))
    phi = np.arctan2(py, px)
    mass_squared = e**2 - px**2 - py**2 - pz**2
    mass = np.sqrt(np.maximum(mass_squared, 0.0))
    return pt, eta, phi, mass


def delta_r(eta1, phi1, eta2, phi2):
    return np.hypot(eta1 - eta2, wrap_phi(phi1 - phi2))
