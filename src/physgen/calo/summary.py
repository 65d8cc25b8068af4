"""One-pass summary of a CaloChallenge file (``physgen calo inspect``)."""

from __future__ import annotations

import numpy as np

from physgen.calo.features import compute_features
from physgen.calo.geometry import Geometry
from physgen.calo.io import DEFAULT_CHUNK, iter_showers, open_shower_file


def summarize_file(path, geometry: Geometry | None = None, chunk_size: int = DEFAULT_CHUNK) -> dict:
    """Events, energy range, geometry, mean E_tot/E_inc and mean sparsity, streamed."""
    info = open_shower_file(path, geometry)
    e_min, e_max = np.inf, -np.inf
    ratio_sum = sparsity_sum = 0.0
    for energies, showers in iter_showers(path, chunk_size, info.geometry):
        features = compute_features(info.geometry, energies, showers)
        e_min, e_max = min(e_min, float(energies.min())), max(e_max, float(energies.max()))
        ratio_sum += float(np.sum(features.e_tot / features.incident_energy, dtype=np.float64))
        sparsity_sum += float(np.sum(features.sparsity.mean(axis=1), dtype=np.float64))
    return {
        "path": str(info.path),
        "n_events": info.n_events,
        "n_voxels": info.n_voxels,
        "geometry": info.geometry.name,
        "e_inc_min_mev": e_min,
        "e_inc_max_mev": e_max,
        "mean_etot_over_einc": ratio_sum / info.n_events,
        "mean_sparsity": sparsity_sum / info.n_events,
        "attrs": info.attrs,
    }
