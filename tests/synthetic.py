"""Small synthetic inputs shared by the tests (importable from any test: pytest puts this
folder on sys.path for its conftest.py)."""

from __future__ import annotations

import numpy as np

N_VOXELS_DS1_PHOTONS = 368


def showers(n=200, seed=0, scale=1.0, n_voxels=N_VOXELS_DS1_PHOTONS):
    """(incident energies, showers) in MeV: 1-100 GeV log-uniform, gamma-distributed voxel
    weights on 40% of the voxels, 90% of E_inc deposited (times ``scale``)."""
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n)).astype(np.float32)
    weights = rng.gamma(0.7, 1.0, (n, n_voxels)) * (rng.random((n, n_voxels)) < 0.4)
    deposits = weights / weights.sum(1, keepdims=True) * energies[:, None] * 0.9 * scale
    return energies, deposits.astype(np.float32)


def jet_pairs(n=200, seed=0):
    """(parton jets, particle jets) (pt, eta, phi, m) in GeV with a small fixed response."""
    rng = np.random.default_rng(seed)
    parton = np.stack(
        [
            rng.uniform(20, 200, n),
            rng.normal(0, 1, n),
            rng.uniform(-3, 3, n),
            rng.uniform(1, 20, n),
        ],
        1,
    ).astype(np.float32)
    particle = parton * np.array([1.02, 1, 1, 1.05], np.float32) + np.float32(0.05)
    return parton, particle
