"""Reading jet files written by ``physgen jets simulate`` / ``generate``, with clear errors."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from physgen.core.atomic import atomic_path
from physgen.core.errors import PhysgenInputError

__all__ = ["read_pairs", "write_pairs", "LEVELS"]

LEVELS = ("parton", "particle", "detector")


def read_pairs(path, target: str = "particle", max_rows: int | None = None):
    """(parton_jets, target_jets), each (n, 4) float32 arrays of pt, eta, phi, m in GeV."""
    path = Path(path)
    if not path.exists():
        raise PhysgenInputError(f"{path}: no such file")
    if target not in LEVELS[1:]:
        raise PhysgenInputError(f"target level '{target}': use particle or detector")
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise PhysgenInputError(f"{path}: not an HDF5 file ({err})") from err
    with h5:
        for name in ("parton_jets", f"{target}_jets"):
            if name not in h5:
                raise PhysgenInputError(
                    f"{path}: no dataset '{name}' (datasets: {', '.join(h5)}); make jet pairs "
                    "with `physgen jets simulate --task pairs`"
                    + (" --detector" if target == "detector" else "")
                )
            if h5[name].ndim != 2 or h5[name].shape[1] != 4:
                raise PhysgenInputError(f"{path}: '{name}' must have shape (n, 4)")
        rows = slice(0, max_rows)
        inputs = np.asarray(h5["parton_jets"][rows], dtype=np.float32)
        outputs = np.asarray(h5[f"{target}_jets"][rows], dtype=np.float32)
    if len(inputs) != len(outputs):
        raise PhysgenInputError(f"{path}: parton and {target} jets differ in length")
    if not (np.isfinite(inputs).all() and np.isfinite(outputs).all()):
        raise PhysgenInputError(f"{path}: contains NaN or infinite values")
    if (inputs[:, 0] <= 0).any():
        raise PhysgenInputError(f"{path}: parton jets with pT <= 0")
    return inputs, outputs


def write_pairs(path, parton_jets: np.ndarray, generated_jets: np.ndarray, attrs: dict) -> None:
    """A generated file with the layout of a simulated one (``particle_jets`` holds the
    emulated jets)."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("parton_jets", data=parton_jets.astype(np.float32), compression="gzip")
        h5.create_dataset(
            "particle_jets", data=generated_jets.astype(np.float32), compression="gzip"
        )
        h5.create_dataset("weights", data=np.ones(len(parton_jets)))
        h5.attrs.update(attrs)
