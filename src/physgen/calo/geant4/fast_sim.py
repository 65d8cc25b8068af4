"""A trained shower surrogate inside a Geant4 run (``physgen calo simulate --fast-sim RUN/``).

geant4-pybind 0.1.3 binds G4FastSimulationPhysics but not G4VFastSimulationModel, so the
surrogate is attached the other way Geant4 allows: a user stepping action. When an electron,
positron or photon steps from the world into the calorimeter's first absorber, the action
records its kinetic energy, entry point and direction and kills the track
(``fStopAndKill``); Geant4 simulates everything else as usual (particles below
``min_energy_mev``, outside the model's training range, keep their full simulation). At the
end of the event the surrogate generates one shower per recorded particle and deposits it
into the same readout as the full simulation: every voxel becomes a silicon hit at the voxel's
centre in the particle's frame (layer, radius, angle), moved to the particle's entry point,
with the voxel energy times the sampling fraction, and goes through the same hit binning. A
particle entering at the gun's point along the gun's axis therefore gets its voxels back
exactly; the surrogate knows only normal incidence (the CaloChallenge datasets), so the
particle's direction enters through its entry point alone, and the largest angle to the
calorimeter normal is recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from physgen.calo.geometry import Geometry

__all__ = ["FastShowerSimulation", "EnteringParticle"]

FAST_PARTICLES = ("e-", "e+", "gamma")


@dataclass
class EnteringParticle:
    energy_mev: float
    y_mm: float
    z_mm: float
    angle_rad: float  # to the calorimeter normal (+x at the gun's entry point)


@dataclass
class FastShowerSimulation:
    """The surrogate side of a fast-simulation run in one Geant4 worker."""

    run_dir: str
    geometry: Geometry
    sampling_fraction: float
    min_energy_mev: float = 1000.0
    entering: list[EnteringParticle] = field(default_factory=list)
    handed_over: int = 0
    max_angle_rad: float = 0.0
    surrogate_s: float = 0.0

    def __post_init__(self):
        from physgen.calo.models import SHOWER_MODELS
        from physgen.core.run import Run

        torch.set_num_threads(1)  # one Geant4 worker, one core
        self.model = SHOWER_MODELS.load(Run(self.run_dir).require_model("physgen calo train"))
        if self.model.config.geometry != self.geometry.name:
            from physgen.core.errors import PhysgenInputError

            raise PhysgenInputError(
                f"--fast-sim {self.run_dir}: the model was trained on {self.model.config.geometry}"
                f" showers, the simulation reads out {self.geometry.name}"
            )
        layer = self.geometry.active_layers[0]
        edges = np.asarray(layer.r_edges_mm)
        self._r_centre = 0.5 * (edges[1:] + edges[:-1])
        self._n_r, self._n_alpha = layer.n_r, layer.n_alpha

    def stepping_action(self, g4, calorimeter_volume: str = "absorber0"):
        """A G4UserSteppingAction that hands entering e-, e+ and photons to the surrogate."""
        fast = self

        class HandOver(g4.G4UserSteppingAction):
            def UserSteppingAction(self, step):
                post = step.GetPostStepPoint()
                volume = post.GetTouchable().GetVolume()
                if volume is None or volume.GetName() != calorimeter_volume:
                    return
                if step.GetPreStepPoint().GetTouchable().GetVolume().GetName() != "world":
                    return
                track = step.GetTrack()
                name = track.GetDefinition().GetParticleName()
                energy = track.GetKineticEnergy()
                if name not in FAST_PARTICLES or energy < fast.min_energy_mev:
                    return
                position, direction = post.GetPosition(), track.GetMomentumDirection()
                radial = np.array([position.x, position.y, 0.0])
                normal = radial / max(np.linalg.norm(radial), 1e-12)
                cosine = float(np.dot(normal, [direction.x, direction.y, direction.z]))
                fast.entering.append(
                    EnteringParticle(
                        energy, position.y, position.z, math.acos(max(-1.0, min(1.0, cosine)))
                    )
                )
                track.SetTrackStatus(g4.fStopAndKill)

        return HandOver()

    def deposit(self, hits: list, sensitive_per_readout: int, seed: int) -> None:
        """Add the surrogate showers of this event's entering particles to ``hits`` as
        (y mm, z mm, silicon MeV, silicon layer) rows, and forget the particles."""
        import time

        from physgen.calo.models.base import generate_showers

        if not self.entering:
            return
        started = time.perf_counter()
        particles, self.entering = self.entering, []
        energies = np.array([p.energy_mev for p in particles], np.float32)
        showers = generate_showers(self.model, energies, batch_size=len(energies), seed=seed)
        n_layers = self.geometry.n_layers
        voxels = showers.reshape(len(particles), n_layers, self._n_alpha, self._n_r)
        for particle, shower in zip(particles, voxels, strict=True):
            layer, alpha_bin, r_bin = np.nonzero(shower)
            alpha = -math.pi + (alpha_bin + 0.5) * (2 * math.pi / self._n_alpha)
            radius = self._r_centre[r_bin]
            # the readout's frame: eta along z (r cos alpha), phi along y (r sin alpha)
            y = particle.y_mm + radius * np.sin(alpha)
            z = particle.z_mm + radius * np.cos(alpha)
            silicon = shower[layer, alpha_bin, r_bin].astype(np.float64) * self.sampling_fraction
            hits.extend(zip(y, z, silicon, layer * sensitive_per_readout, strict=True))
            self.max_angle_rad = max(self.max_angle_rad, particle.angle_rad)
        self.handed_over += len(particles)
        self.surrogate_s += time.perf_counter() - started
