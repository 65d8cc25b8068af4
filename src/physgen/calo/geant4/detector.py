"""Geant4 detectors: the Par04 sampling calorimeter (datasets 2/3) and a tungsten block.

Par04: concentric cylinders around the z axis, inner radius 80 cm, length 2 m, 90 layers
of 1.4 mm tungsten followed by 0.3 mm silicon. The particle starts on the z = 0 plane at
the origin and travels along +x, entering the calorimeter at (800 mm, 0, 0). Silicon hits
are read out in the particle frame: eta along z, phi along y, depth from the silicon layer
(two W+Si pairs per readout layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from physgen.calo.geant4.runtime import import_geant4
from physgen.calo.geometry import Geometry


@dataclass(frozen=True)
class Par04Layout:
    inner_radius_mm: float = 800.0
    length_mm: float = 2000.0
    n_layers: int = 90
    absorber_mm: float = 1.4
    sensitive_mm: float = 0.3
    absorber_material: str = "G4_W"
    sensitive_material: str = "G4_Si"

    @property
    def pitch_mm(self) -> float:
        return self.absorber_mm + self.sensitive_mm

    @property
    def outer_radius_mm(self) -> float:
        return self.inner_radius_mm + self.n_layers * self.pitch_mm


class HitBinner:
    """Bins silicon hits (y, z, edep, silicon layer) into CaloChallenge voxels."""

    def __init__(self, geometry: Geometry, n_sensitive_layers: int):
        if not geometry.is_regular:
            raise ValueError("the Geant4 readout supports regular geometries (ds2, ds3)")
        layer = geometry.active_layers[0]
        edges = np.asarray(layer.r_edges_mm)
        if not np.allclose(np.diff(edges), edges[1] - edges[0]):
            raise ValueError("the Geant4 readout needs uniform radial bins")
        self.r_step_mm = float(edges[1] - edges[0])
        self.r_max_mm = float(edges[-1])
        self.n_r, self.n_alpha = layer.n_r, layer.n_alpha
        self.n_readout_layers = geometry.n_layers
        if n_sensitive_layers % geometry.n_layers:
            raise ValueError("sensitive layers must group evenly into readout layers")
        self.sensitive_per_readout = n_sensitive_layers // geometry.n_layers
        self.n_voxels = geometry.n_voxels

    def bin(self, hits: np.ndarray) -> tuple[np.ndarray, float]:
        """hits: (n, 4) float64 of (y mm, z mm, edep MeV, silicon layer).

        Returns the voxel energies (n_voxels,) in MeV and the silicon energy deposited
        beyond the last radial edge (dropped, as in the CaloChallenge readout)."""
        shower = np.zeros(self.n_voxels, dtype=np.float64)
        if len(hits) == 0:
            return shower, 0.0
        y, z, edep, si_layer = hits.T
        r = np.hypot(y, z)
        keep = r < self.r_max_mm
        alpha = np.arctan2(y[keep], z[keep])  # eta = r cos(alpha) = z, phi = r sin(alpha) = y
        alpha_bin = np.minimum(
            ((alpha + math.pi) / (2 * math.pi) * self.n_alpha).astype(np.int64), self.n_alpha - 1
        )
        r_bin = (r[keep] / self.r_step_mm).astype(np.int64)
        layer = si_layer[keep].astype(np.int64) // self.sensitive_per_readout
        voxel = (layer * self.n_alpha + alpha_bin) * self.n_r + r_bin
        np.add.at(shower, voxel, edep[keep])
        return shower, float(edep[~keep].sum())


def build_par04(layout: Par04Layout, hit_buffer: list):
    """A G4VUserDetectorConstruction of the Par04 calorimeter recording silicon hits."""
    g4 = import_geant4()

    class SiliconHits(g4.G4VSensitiveDetector):
        def ProcessHits(self, step, history):
            edep = step.GetTotalEnergyDeposit()
            if edep > 0:
                position = step.GetPostStepPoint().GetPosition()
                layer = step.GetPreStepPoint().GetTouchable().GetCopyNumber(0)
                hit_buffer.append((position.y, position.z, edep, layer))
            return True

    class Par04(g4.G4VUserDetectorConstruction):
        def Construct(self):
            nist = g4.G4NistManager.Instance()
            vacuum = nist.FindOrBuildMaterial("G4_Galactic")
            absorber = nist.FindOrBuildMaterial(layout.absorber_material)
            sensitive = nist.FindOrBuildMaterial(layout.sensitive_material)
            mm = g4.mm
            half_world = (layout.outer_radius_mm + 100) * mm
            half_length = layout.length_mm / 2 * mm
            self._keep = []
            world_solid = g4.G4Box("world", half_world, half_world, half_length + 100 * mm)
            world_logical = g4.G4LogicalVolume(world_solid, vacuum, "world")
            world = g4.G4PVPlacement(
                None, g4.G4ThreeVector(), world_logical, "world", None, False, 0
            )
            self.sensitive_volumes = []
            for index in range(layout.n_layers):
                r0 = layout.inner_radius_mm + index * layout.pitch_mm
                r1 = r0 + layout.absorber_mm
                r2 = r1 + layout.sensitive_mm
                for name, material, (a, b), is_sensitive in (
                    ("absorber", absorber, (r0, r1), False),
                    ("sensitive", sensitive, (r1, r2), True),
                ):
                    solid = g4.G4Tubs(f"{name}{index}", a * mm, b * mm, half_length, 0, 2 * math.pi)
                    logical = g4.G4LogicalVolume(solid, material, f"{name}{index}")
                    placement = g4.G4PVPlacement(
                        None,
                        g4.G4ThreeVector(),
                        logical,
                        f"{name}{index}",
                        world_logical,
                        False,
                        index,
                    )
                    self._keep += [solid, logical, placement]
                    if is_sensitive:
                        self.sensitive_volumes.append(logical)
            self._keep += [world_solid, world_logical, world]
            return world

        def ConstructSDandField(self):
            detector = SiliconHits("silicon")
            g4.G4SDManager.GetSDMpointer().AddNewDetector(detector)
            for logical in self.sensitive_volumes:
                logical.SetSensitiveDetector(detector)
            self._detector = detector

    return Par04()


def build_tungsten_block(thickness_mm: float, half_width_mm: float, deposits: list):
    """A tungsten block from z = 0 in vacuum; every energy deposit is summed into deposits[0]."""
    g4 = import_geant4()

    class AllDeposits(g4.G4VSensitiveDetector):
        def ProcessHits(self, step, history):
            deposits[0] += step.GetTotalEnergyDeposit()
            return True

    class Block(g4.G4VUserDetectorConstruction):
        def Construct(self):
            nist = g4.G4NistManager.Instance()
            mm = g4.mm
            size = max(thickness_mm, 2 * half_width_mm) + 100
            world_solid = g4.G4Box("world", size * mm, size * mm, size * mm)
            world_logical = g4.G4LogicalVolume(
                world_solid, nist.FindOrBuildMaterial("G4_Galactic"), "world"
            )
            world = g4.G4PVPlacement(
                None, g4.G4ThreeVector(), world_logical, "world", None, False, 0
            )
            solid = g4.G4Box("block", half_width_mm * mm, half_width_mm * mm, thickness_mm / 2 * mm)
            self.block = g4.G4LogicalVolume(solid, nist.FindOrBuildMaterial("G4_W"), "block")
            placement = g4.G4PVPlacement(
                None,
                g4.G4ThreeVector(0, 0, thickness_mm / 2 * mm),
                self.block,
                "block",
                world_logical,
                False,
                0,
            )
            self._keep = [world_solid, world_logical, world, solid, placement]
            return world

        def ConstructSDandField(self):
            detector = AllDeposits("block")
            g4.G4SDManager.GetSDMpointer().AddNewDetector(detector)
            self.block.SetSensitiveDetector(detector)
            self._detector = detector

    return Block()
