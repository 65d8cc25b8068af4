"""CaloChallenge HDF5 files: validated reading in chunks and atomic, chunked writing.

Format: ``incident_energies`` (N, 1) MeV and ``showers`` (N, n_voxels) MeV, gzip-compressed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from physgen.calo.geometry import Geometry, geometry_from_voxel_count
from physgen.core.atomic import atomic_path
from physgen.core.errors import PhysgenInputError

__all__ = [
    "CaloFileError",
    "ShowerFileInfo",
    "open_shower_file",
    "iter_showers",
    "read_showers",
    "write_showers",
    "ShowerWriter",
    "DEFAULT_CHUNK",
]

DEFAULT_CHUNK = 10_000


class CaloFileError(PhysgenInputError):
    """A CaloChallenge file that cannot be used, with the file and the problem named."""

    def __init__(self, path, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@dataclass(frozen=True)
class ShowerFileInfo:
    path: Path
    n_events: int
    n_voxels: int
    geometry: Geometry
    attrs: dict


def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise CaloFileError(path, "file does not exist")
    if path.is_dir():
        raise CaloFileError(path, "is a directory, expected an HDF5 file")
    if not h5py.is_hdf5(path):
        raise CaloFileError(
            path, "not an HDF5 file (wrong signature); expected a CaloChallenge .h5 file"
        )
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise CaloFileError(path, f"truncated or corrupt HDF5 file ({err})") from None


def open_shower_file(path: str | os.PathLike, geometry: Geometry | None = None) -> ShowerFileInfo:
    """Check the structure of a CaloChallenge file (not its values) and describe it."""
    path = Path(path)
    with _open_h5(path) as h5:
        try:
            for key in ("incident_energies", "showers"):
                if key not in h5:
                    raise CaloFileError(
                        path, f"missing dataset '{key}' (found: {sorted(h5.keys())})"
                    )
            energies, showers = h5["incident_energies"], h5["showers"]
            attrs = {k: _attr_value(v) for k, v in h5.attrs.items()}
        except (OSError, RuntimeError, KeyError) as err:
            raise CaloFileError(path, f"truncated or corrupt HDF5 file ({err})") from None
        if showers.ndim != 2:
            raise CaloFileError(
                path, f"'showers' must be 2-D (events, voxels), got shape {showers.shape}"
            )
        if energies.ndim not in (1, 2) or (energies.ndim == 2 and energies.shape[1] != 1):
            raise CaloFileError(
                path, f"'incident_energies' must have shape (N, 1), got {energies.shape}"
            )
        if energies.shape[0] != showers.shape[0]:
            raise CaloFileError(
                path,
                f"length mismatch: {energies.shape[0]} incident energies "
                f"but {showers.shape[0]} showers",
            )
        n_events, n_voxels = showers.shape
    if n_events == 0:
        raise CaloFileError(path, "the file holds no events")
    if geometry is None:
        try:
            geometry = geometry_from_voxel_count(n_voxels)
        except PhysgenInputError as err:
            raise CaloFileError(path, str(err)) from None
    elif geometry.n_voxels != n_voxels:
        raise CaloFileError(
            path,
            f"wrong voxel count for geometry {geometry.name}: file has {n_voxels}, "
            f"geometry needs {geometry.n_voxels}",
        )
    return ShowerFileInfo(path, n_events, n_voxels, geometry, attrs)


def _attr_value(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _check_values(path, start: int, energies: np.ndarray, showers: np.ndarray) -> None:
    def first_bad(mask_rows) -> int:
        return start + int(np.flatnonzero(mask_rows)[0])

    if not np.all(np.isfinite(energies)):
        raise CaloFileError(
            path, f"NaN or inf incident energy at event {first_bad(~np.isfinite(energies))}"
        )
    if np.any(energies <= 0):
        raise CaloFileError(
            path, f"non-positive incident energy at event {first_bad(energies <= 0)}"
        )
    finite_rows = np.isfinite(showers).all(axis=1)
    if not finite_rows.all():
        raise CaloFileError(path, f"NaN or inf voxel energy in event {first_bad(~finite_rows)}")
    negative_rows = (showers < 0).any(axis=1)
    if negative_rows.any():
        raise CaloFileError(path, f"negative voxel energy in event {first_bad(negative_rows)}")


def iter_showers(
    path: str | os.PathLike,
    chunk_size: int = DEFAULT_CHUNK,
    geometry: Geometry | None = None,
    start: int = 0,
    stop: int | None = None,
    check_values: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (incident_energies (n,), showers (n, n_voxels)) float32 chunks in MeV.

    Values are checked chunk by chunk (NaN/inf, negative voxels, non-positive energies)
    unless ``check_values`` is False (the evaluator counts bad generated showers itself).
    """
    info = open_shower_file(path, geometry)
    stop = info.n_events if stop is None else min(stop, info.n_events)
    with _open_h5(info.path) as h5:
        energies_ds, showers_ds = h5["incident_energies"], h5["showers"]
        for begin in range(start, stop, chunk_size):
            end = min(begin + chunk_size, stop)
            try:
                energies = np.asarray(energies_ds[begin:end], dtype=np.float32).reshape(-1)
                showers = np.asarray(showers_ds[begin:end], dtype=np.float32)
            except (OSError, RuntimeError) as err:
                raise CaloFileError(
                    info.path, f"truncated or corrupt data at events {begin}-{end} ({err})"
                ) from None
            if check_values:
                _check_values(info.path, begin, energies, showers)
            yield energies, showers


def read_showers(
    path, geometry: Geometry | None = None, stop: int | None = None, check_values: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Read a whole (small) file: (incident_energies (N,), showers (N, n_voxels)), MeV."""
    chunks = list(iter_showers(path, geometry=geometry, stop=stop, check_values=check_values))
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


class ShowerWriter:
    """Append showers to a CaloChallenge file in chunks.

    With ``atomic=True`` (the default) the data go to a temporary file that is renamed to
    ``path`` when the writer closes without error; a failure midway leaves no file under
    ``path``. With ``atomic=False`` every appended chunk is flushed to ``path`` itself, so a
    killed process keeps the finished chunks (``resume=True`` re-opens such a file).
    """

    def __init__(
        self,
        path,
        n_voxels: int,
        attrs: dict | None = None,
        atomic: bool = True,
        resume: bool = False,
        compression_level: int = 4,
        chunk_rows: int = 256,
    ):
        self.path = Path(path)
        self.n_voxels = n_voxels
        self._atomic_ctx = atomic_path(self.path) if atomic else None
        target = self._atomic_ctx.__enter__() if atomic else self.path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and not atomic and self.path.exists():
            self._h5 = h5py.File(target, "a")
            if self._h5["showers"].shape[1] != n_voxels:
                self._h5.close()
                raise CaloFileError(self.path, "cannot resume: voxel count differs")
        else:
            self._h5 = h5py.File(target, "w")
            gzip = {"compression": "gzip", "compression_opts": compression_level}
            self._h5.create_dataset(
                "incident_energies",
                shape=(0, 1),
                maxshape=(None, 1),
                dtype="float32",
                chunks=(max(chunk_rows * 16, 1024), 1),
                **gzip,
            )
            self._h5.create_dataset(
                "showers",
                shape=(0, n_voxels),
                maxshape=(None, n_voxels),
                dtype="float32",
                chunks=(chunk_rows, n_voxels),
                shuffle=True,
                **gzip,
            )
        for key, value in (attrs or {}).items():
            self._h5.attrs[key] = value

    @property
    def n_events(self) -> int:
        return int(self._h5["showers"].shape[0])

    def set_attrs(self, attrs: dict) -> None:
        for key, value in attrs.items():
            self._h5.attrs[key] = value

    def append(self, incident_energies_mev: np.ndarray, showers_mev: np.ndarray) -> None:
        energies = np.asarray(incident_energies_mev, dtype=np.float32).reshape(-1, 1)
        showers = np.asarray(showers_mev, dtype=np.float32)
        if showers.ndim != 2 or showers.shape[1] != self.n_voxels:
            raise ValueError(f"showers must have shape (n, {self.n_voxels}), got {showers.shape}")
        if energies.shape[0] != showers.shape[0]:
            raise ValueError("incident energies and showers differ in length")
        n_old = self.n_events
        n_new = n_old + showers.shape[0]
        for key, block in (("incident_energies", energies), ("showers", showers)):
            self._h5[key].resize(n_new, axis=0)
            self._h5[key][n_old:n_new] = block
        self._h5.flush()

    def close(self, failed: bool = False) -> None:
        self._h5.close()
        if self._atomic_ctx is not None:
            if failed:
                self._atomic_ctx.__exit__(RuntimeError, RuntimeError("write failed"), None)
            else:
                self._atomic_ctx.__exit__(None, None, None)

    def __enter__(self) -> ShowerWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(failed=exc_type is not None)


def write_showers(
    path,
    incident_energies_mev,
    showers_mev,
    attrs: dict | None = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> None:
    """Write a whole CaloChallenge file atomically (gzip)."""
    showers_mev = np.asarray(showers_mev)
    incident_energies_mev = np.asarray(incident_energies_mev).reshape(-1)
    with ShowerWriter(path, showers_mev.shape[1], attrs) as writer:
        for begin in range(0, len(showers_mev), chunk_size):
            writer.append(
                incident_energies_mev[begin : begin + chunk_size],
                showers_mev[begin : begin + chunk_size],
            )
