"""One streaming pass over a shower file for the evaluation: features, average shower,
voxel-energy histogram and (optionally) the thresholded showers for the classifiers.

Reference passes are cached by content hash (see ``feature_cache``)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from physgen.calo.features import ShowerFeatures, apply_threshold, compute_features
from physgen.calo.geometry import Geometry
from physgen.calo.io import DEFAULT_CHUNK, iter_showers
from physgen.core.atomic import write_npz_atomic

CACHE_VERSION = 2  # 2: float64 features, official voxel edges from the largest voxel
CHUNK_BYTES = 100e6  # float32 bytes per streamed chunk: ~2500 ds3 or ~3900 ds2 showers


def chunk_rows(n_voxels: int) -> int:
    """Showers per streamed chunk, so that large geometries do not hold GB-sized chunks."""
    return int(max(500, min(DEFAULT_CHUNK, CHUNK_BYTES // (4 * n_voxels))))


@dataclass
class ShowerSummary:
    features: ShowerFeatures
    mean_shower: np.ndarray  # (n_voxels,) MeV, thresholded
    voxel_counts: np.ndarray  # histogram of non-zero voxel energies on voxel_edges
    voxel_out_of_range: float
    n_invalid: int  # showers dropped: NaN/inf/negative voxels or bad incident energy
    voxel_edges: np.ndarray | None = None
    showers: torch.Tensor | None = None  # thresholded, float32 or bfloat16


def _valid_rows(energies: np.ndarray, showers: np.ndarray) -> np.ndarray:
    return (
        np.isfinite(energies) & (energies > 0) & np.isfinite(showers).all(1) & (showers >= 0).all(1)
    )


def summarize_showers(
    path,
    geometry: Geometry,
    voxel_edges: np.ndarray,
    stop: int | None,
    keep_showers: bool,
    storage_dtype: torch.dtype = torch.float32,
    check_values: bool = True,
) -> ShowerSummary:
    """Stream ``path`` once (up to ``stop`` events)."""
    from physgen.calo.io import open_shower_file

    n_events = open_shower_file(path, geometry).n_events
    n_rows = n_events if stop is None else min(stop, n_events)
    # preallocated (not concatenated at the end) so the showers are held once, not twice
    kept = torch.empty((n_rows, geometry.n_voxels), dtype=storage_dtype) if keep_showers else None
    n_kept = 0
    parts = []
    shower_sum = np.zeros(geometry.n_voxels)
    voxel_counts = np.zeros(len(voxel_edges) - 1, dtype=np.int64)
    n_voxels_nonzero = n_voxels_in_range = n_invalid = 0
    for energies, showers in iter_showers(
        path, DEFAULT_CHUNK, geometry, stop=stop, check_values=check_values
    ):
        valid = _valid_rows(energies, showers)
        if not valid.all():
            n_invalid += int((~valid).sum())
            energies, showers = energies[valid], showers[valid]
        showers = apply_threshold(showers, geometry.threshold_mev)
        parts.append(
            compute_features(geometry, energies, showers, threshold=False, dtype=np.float64)
        )
        shower_sum += showers.sum(0, dtype=np.float64)
        nonzero = showers[showers > 0]
        counts, _ = np.histogram(nonzero, voxel_edges)
        voxel_counts += counts
        n_voxels_nonzero += nonzero.size
        n_voxels_in_range += int(counts.sum())
        if keep_showers:
            kept[n_kept : n_kept + len(showers)] = torch.from_numpy(showers)
        n_kept += len(showers)
    features = ShowerFeatures.concatenate(parts) if parts else None
    return ShowerSummary(
        features=features,
        mean_shower=shower_sum / max(n_kept, 1),
        voxel_counts=voxel_counts,
        voxel_out_of_range=1 - n_voxels_in_range / max(n_voxels_nonzero, 1),
        n_invalid=n_invalid,
        voxel_edges=np.asarray(voxel_edges, dtype=np.float64),
        showers=kept[:n_kept] if keep_showers else None,
    )


def largest_voxel(path, geometry: Geometry, stop: int | None) -> float:
    """The largest valid voxel energy of ``path`` (MeV): the official voxel-spectrum top edge."""
    largest = 0.0
    for energies, showers in iter_showers(path, DEFAULT_CHUNK, geometry, stop=stop):
        valid = _valid_rows(energies, showers)
        if valid.any():
            largest = max(largest, float(showers[valid].max()))
    return largest


# --- reference cache ---------------------------------------------------------------------
def file_digest(path) -> str:
    """BLAKE2b of the file's bytes (a swapped file with the same name gets a new key)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir_for(reference: Path) -> Path:
    beside = reference.parent / ".physgen-cache"
    try:
        beside.mkdir(exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=beside, delete=True)
        probe.close()
        return beside
    except OSError:
        from physgen.core.cache import cache_dir

        fallback = cache_dir() / "reference-features"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def cache_key(path, geometry: Geometry, stop: int | None) -> str:
    parts = [
        file_digest(path),
        geometry.name,
        repr(geometry.threshold_mev),
        str(stop),
        str(CACHE_VERSION),
    ]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


def load_cached_summary(path, key: str) -> ShowerSummary | None:
    cached = _cache_dir_for(Path(path)) / f"{Path(path).name}.{key}.npz"
    if not cached.exists():
        return None
    try:
        with np.load(cached) as data:
            features = ShowerFeatures(
                **{f.name: data[f"f_{f.name}"] for f in fields(ShowerFeatures)}
            )
            return ShowerSummary(
                features,
                data["mean_shower"],
                data["voxel_counts"],
                float(data["voxel_out_of_range"]),
                int(data["n_invalid"]),
                data["voxel_edges"],
            )
    except Exception:  # a damaged cache (zip, key or value errors): recompute it
        cached.unlink(missing_ok=True)
        return None


def store_cached_summary(path, key: str, summary: ShowerSummary) -> Path:
    cached = _cache_dir_for(Path(path)) / f"{Path(path).name}.{key}.npz"
    arrays = {f"f_{k}": v for k, v in summary.features.as_dict().items()}
    write_npz_atomic(
        cached,
        mean_shower=summary.mean_shower,
        voxel_counts=summary.voxel_counts,
        voxel_edges=summary.voxel_edges,
        voxel_out_of_range=summary.voxel_out_of_range,
        n_invalid=summary.n_invalid,
        **arrays,
    )
    os.utime(cached)
    return cached
