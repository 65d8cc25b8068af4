"""``geant4-response``: the Par04 calorimeter's mean response, resolution and shower depth as a
function of (incident energy, angle of incidence), from ``physgen calo simulate`` run as a
subprocess - the command a user runs, so the emulator learns the product's own simulator and
this domain imports no other domain.

Per shower: r = (voxel energy sum) / (incident energy) and the depth, the energy-weighted
mean layer index (layers are planes normal to the calorimeter axis, so a tilted shower
reaches less deep and leaks more out of the readout cylinder). Summaries: mean r, the
resolution std(r) / mean(r), and the mean depth; their covariance by bootstrap over the
showers of the call.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from physgen.core.errors import PhysgenInputError
from physgen.emulate.simulator import Simulator

__all__ = ["Geant4Response", "Geant4ResponseSettings", "response_summaries"]

LAYERS = {"ds2": 45, "ds3": 45}
BOOTSTRAP = 500


@dataclass(frozen=True)
class Geant4ResponseSettings:
    showers: int = 20
    geometry: str = "ds2"
    particle: str = "e-"
    physics: str = "auto"
    min_energy_gev: float = 1.0
    max_energy_gev: float = 10.0
    max_angle_deg: float = 30.0


def response_summaries(energies_mev, showers, n_layers: int, seed: int):
    """(summary (3,), bootstrap covariance (3, 3)) of showers (n, voxels) at their energies."""
    showers = np.asarray(showers, dtype=np.float64)
    per_layer = showers.reshape(len(showers), n_layers, -1).sum(2)
    total = per_layer.sum(1)
    response = total / np.asarray(energies_mev, dtype=np.float64).reshape(-1)
    depth = (per_layer * np.arange(n_layers)).sum(1) / np.maximum(total, 1e-300)

    def summary(rows):
        r = response[rows]
        return np.array([r.mean(), r.std(ddof=1) / r.mean(), depth[rows].mean()])

    rng = np.random.default_rng(seed)
    n = len(showers)
    replicas = np.array([summary(rng.integers(0, n, n)) for _ in range(BOOTSTRAP)])
    return summary(np.arange(n)), np.cov(replicas, rowvar=False)


class Geant4Response(Simulator):
    name = "geant4-response"
    parameter_names = ("energy_gev", "angle_deg")
    summary_names = ("response", "resolution", "depth_layers")
    settings_class = Geant4ResponseSettings

    def __init__(self, settings=None):
        super().__init__(settings)
        s = self.settings
        if s.geometry not in LAYERS:
            raise PhysgenInputError(f"geometry '{s.geometry}': use one of {', '.join(LAYERS)}")
        if s.showers < 3:
            raise PhysgenInputError("geant4-response needs at least 3 showers per call")
        if not 0 < s.min_energy_gev < s.max_energy_gev or not 0 < s.max_angle_deg < 90:
            raise PhysgenInputError("the energy and angle ranges of geant4-response are empty")

    @property
    def bounds(self) -> np.ndarray:
        s = self.settings
        return np.array([[s.min_energy_gev, s.max_energy_gev], [0.0, s.max_angle_deg]])

    def run(self, point, seed):
        energy_gev, angle_deg = (float(v) for v in point)
        s = self.settings
        with tempfile.TemporaryDirectory(prefix="physgen-g4-") as folder:
            out = Path(folder) / "showers.h5"
            command = [
                sys.executable, "-m", "physgen.cli", "calo", "simulate",
                "--geometry", s.geometry, "--particle", s.particle, "--physics", s.physics,
                "--energy", f"{energy_gev:.9g}", "--angle", f"{angle_deg:.9g}",
                "--n", str(s.showers), "--chunk-size", str(s.showers), "--seed", str(seed),
                "--out", str(out),
            ]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(
                    f"physgen calo simulate failed at E = {energy_gev:g} GeV, angle "
                    f"{angle_deg:g} deg: {done.stderr.strip()[-2000:]}"
                )
            with h5py.File(out, "r") as file:
                energies, showers = file["incident_energies"][:], file["showers"][:]
        return response_summaries(energies, showers, LAYERS[s.geometry], seed)
