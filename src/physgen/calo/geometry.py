"""Calorimeter readout geometries in the CaloChallenge convention.

A geometry is a list of layers; each layer has radial bin edges (mm) and a number of
uniform angular bins on [-pi, pi]. Voxels are flattened layer by layer, and inside a
layer in (alpha, r) order with the radial bin running fastest. Layers without bins
(``r_edges == [0]`` in the official XML) hold no voxels.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from physgen.core.errors import PhysgenInputError

__all__ = [
    "LayerBinning",
    "Geometry",
    "GEOMETRY_NAMES",
    "get_geometry",
    "geometry_from_voxel_count",
    "read_binning_xml",
    "write_binning_xml",
]


@dataclass(frozen=True)
class LayerBinning:
    layer_id: int
    r_edges_mm: tuple[float, ...]
    n_alpha: int

    @property
    def n_r(self) -> int:
        return max(len(self.r_edges_mm) - 1, 0)

    @property
    def n_voxels(self) -> int:
        return self.n_r * self.n_alpha

    @property
    def has_alpha_binning(self) -> bool:
        return self.n_alpha > 1


@dataclass(frozen=True)
class Geometry:
    """Readout binning of one calorimeter and particle type."""

    name: str
    particle: str
    pid: int
    layers: tuple[LayerBinning, ...]
    # Voxel threshold of the official evaluation, MeV.
    threshold_mev: float
    extra_xml_attrs: dict = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def active_layers(self) -> tuple[LayerBinning, ...]:
        """Layers that hold voxels, in file order."""
        return tuple(layer for layer in self.layers if layer.n_voxels > 0)

    @property
    def n_layers(self) -> int:
        return len(self.active_layers)

    @cached_property
    def n_voxels(self) -> int:
        return sum(layer.n_voxels for layer in self.active_layers)

    @cached_property
    def layer_slices(self) -> tuple[slice, ...]:
        """Slice of the flat voxel vector for each active layer."""
        bounds = np.cumsum([0] + [layer.n_voxels for layer in self.active_layers])
        return tuple(slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True))

    @property
    def is_regular(self) -> bool:
        """True when every active layer has the same binning (datasets 2 and 3)."""
        first = self.active_layers[0]
        return all(
            layer.r_edges_mm == first.r_edges_mm and layer.n_alpha == first.n_alpha
            for layer in self.active_layers
        )

    # --- index mapping -----------------------------------------------------------------
    @cached_property
    def _voxel_table(self) -> np.ndarray:
        """(n_voxels, 3) int array of (active layer index, alpha bin, r bin)."""
        rows = []
        for layer_index, layer in enumerate(self.active_layers):
            alpha_bin, r_bin = np.divmod(np.arange(layer.n_voxels), layer.n_r)
            rows.append(np.stack([np.full(layer.n_voxels, layer_index), alpha_bin, r_bin], 1))
        return np.concatenate(rows).astype(np.int64)

    def voxel_to_bins(self, voxel_index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Flat voxel index -> (active layer index, alpha bin, r bin)."""
        voxel_index = np.asarray(voxel_index)
        if np.any(voxel_index < 0) or np.any(voxel_index >= self.n_voxels):
            raise IndexError(f"voxel index out of range [0, {self.n_voxels}) for {self.name}")
        table = self._voxel_table[voxel_index]
        return table[..., 0], table[..., 1], table[..., 2]

    def bins_to_voxel(self, layer_index, alpha_bin, r_bin) -> np.ndarray:
        """(active layer index, alpha bin, r bin) -> flat voxel index."""
        layer_index, alpha_bin, r_bin = np.broadcast_arrays(layer_index, alpha_bin, r_bin)
        starts = np.array([s.start for s in self.layer_slices])
        n_r = np.array([layer.n_r for layer in self.active_layers])
        n_alpha = np.array([layer.n_alpha for layer in self.active_layers])
        if np.any((layer_index < 0) | (layer_index >= self.n_layers)):
            raise IndexError(f"layer index out of range [0, {self.n_layers})")
        if np.any((alpha_bin < 0) | (alpha_bin >= n_alpha[layer_index])):
            raise IndexError("alpha bin out of range")
        if np.any((r_bin < 0) | (r_bin >= n_r[layer_index])):
            raise IndexError("r bin out of range")
        return starts[layer_index] + alpha_bin * n_r[layer_index] + r_bin

    # --- bin centres ---------------------------------------------------------------------
    @cached_property
    def r_centers_mm(self) -> np.ndarray:
        """Radial bin centre of every voxel, mm."""
        return np.concatenate(
            [np.tile(_midpoints(layer.r_edges_mm), layer.n_alpha) for layer in self.active_layers]
        )

    @cached_property
    def alpha_centers(self) -> np.ndarray:
        """Angular bin centre of every voxel, radians in (-pi, pi)."""
        return np.concatenate(
            [np.repeat(_alpha_centers(layer.n_alpha), layer.n_r) for layer in self.active_layers]
        )

    @cached_property
    def eta_centers_mm(self) -> np.ndarray:
        """eta = r cos(alpha) of every voxel centre, mm."""
        return self.r_centers_mm * np.cos(self.alpha_centers)

    @cached_property
    def phi_centers_mm(self) -> np.ndarray:
        """phi = r sin(alpha) of every voxel centre, mm."""
        return self.r_centers_mm * np.sin(self.alpha_centers)

    def layer_images(self, flat: np.ndarray) -> list[np.ndarray]:
        """Split (..., n_voxels) into per-layer arrays of shape (..., n_alpha, n_r)."""
        return [
            flat[..., sl].reshape(*flat.shape[:-1], layer.n_alpha, layer.n_r)
            for sl, layer in zip(self.layer_slices, self.active_layers, strict=True)
        ]


def _midpoints(edges) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    return 0.5 * (edges[1:] + edges[:-1])


def _alpha_centers(n_alpha: int) -> np.ndarray:
    edges = np.linspace(-np.pi, np.pi, n_alpha + 1)
    return _midpoints(edges)


# --- built-in geometries (published CaloChallenge binning) ----------------------------------
# Dataset 1: 24 layer ids of the ATLAS-like calorimeter; only some hold voxels.
_DS1_PHOTON_LAYERS = {
    0: ([0, 5, 10, 30, 50, 100, 200, 400, 600], 1),
    1: ([0, 2, 4, 6, 8, 10, 12, 15, 20, 30, 40, 50, 70, 90, 120, 150, 200], 10),
    2: ([0, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 130, 160, 200, 250, 300, 350, 400], 10),
    3: ([0, 50, 100, 200, 400, 600], 1),
    12: ([0, 100, 200, 400, 1000, 2000], 1),
}
_DS1_PION_LAYERS = {
    0: ([0, 5, 10, 30, 50, 100, 200, 400, 600], 1),
    1: ([0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200], 10),
    2: ([0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400], 10),
    3: ([0, 50, 100, 200, 400, 600], 1),
    12: ([0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000], 10),
    13: ([0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 600, 1000, 2000], 10),
    14: ([0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000], 1),
}
_DS1_N_LAYER_IDS = 24
# Datasets 2/3 (Geant4 Par04): 45 readout layers, 9 x 4.65 mm or 18 x 2.325 mm radial bins.
_DS23_N_LAYERS = 45
_DS1_THRESHOLD_MEV = 1.0
_DS23_THRESHOLD_MEV = 0.5e-3 / 0.033  # 0.5 keV in silicon, scaled by the sampling fraction


def _ds1(name: str, particle: str, pid: int, table: dict, eta_max: int) -> Geometry:
    layers = tuple(
        LayerBinning(
            i, tuple(float(e) for e in table.get(i, ([0], 1))[0]), table.get(i, ([0], 1))[1]
        )
        for i in range(_DS1_N_LAYER_IDS)
    )
    return Geometry(
        name, particle, pid, layers, _DS1_THRESHOLD_MEV, {"etaMin": "0", "etaMax": str(eta_max)}
    )


def _ds23(name: str, n_r: int, n_alpha: int, r_step_mm: float) -> Geometry:
    edges = tuple(round(k * r_step_mm, 6) for k in range(n_r + 1))
    layers = tuple(LayerBinning(i, edges, n_alpha) for i in range(_DS23_N_LAYERS))
    return Geometry(name, "electron", 11, layers, _DS23_THRESHOLD_MEV)


_BUILTIN = {
    "ds1-photons": lambda: _ds1("ds1-photons", "photon", 22, _DS1_PHOTON_LAYERS, 130),
    "ds1-pions": lambda: _ds1("ds1-pions", "pion", 211, _DS1_PION_LAYERS, 80),
    "ds2": lambda: _ds23("ds2", 9, 16, 4.65),
    "ds3": lambda: _ds23("ds3", 18, 50, 2.325),
}
GEOMETRY_NAMES = tuple(_BUILTIN)


def get_geometry(name_or_path: str | Path) -> Geometry:
    """A built-in geometry by name (``ds1-photons``, ``ds1-pions``, ``ds2``, ``ds3``),
    or a geometry read from a binning XML file."""
    key = str(name_or_path)
    if key in _BUILTIN:
        return _BUILTIN[key]()
    if key.endswith(".xml") or Path(key).is_file():
        return read_binning_xml(key)
    raise PhysgenInputError(
        f"unknown geometry '{key}': use one of {', '.join(GEOMETRY_NAMES)} or a binning XML file"
    )


def geometry_from_voxel_count(n_voxels: int) -> Geometry:
    """The built-in geometry with this many voxels."""
    for name in GEOMETRY_NAMES:
        geometry = get_geometry(name)
        if geometry.n_voxels == n_voxels:
            return geometry
    known = ", ".join(f"{n} ({get_geometry(n).n_voxels})" for n in GEOMETRY_NAMES)
    raise PhysgenInputError(
        f"no built-in geometry has {n_voxels} voxels (known: {known}); "
        "pass --geometry with a binning XML file"
    )


def read_binning_xml(path: str | Path, threshold_mev: float | None = None) -> Geometry:
    """Read a geometry from the official CaloChallenge binning XML format."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise PhysgenInputError(f"{path}: cannot read binning XML ({err})") from None
    bins = root.findall("Bin")
    if len(bins) != 1:
        raise PhysgenInputError(f"{path}: expected exactly one <Bin> element, found {len(bins)}")
    particle_bin = bins[0]
    layers = []
    for element in particle_bin.findall("Layer"):
        try:
            edges = tuple(float(v) for v in element.attrib["r_edges"].split(","))
            layers.append(
                LayerBinning(int(element.attrib["id"]), edges, int(element.attrib["n_bin_alpha"]))
            )
        except (KeyError, ValueError) as err:
            raise PhysgenInputError(f"{path}: malformed <Layer> element ({err})") from None
    if not any(layer.n_voxels for layer in layers):
        raise PhysgenInputError(f"{path}: no layer has any voxel")
    pid = int(particle_bin.attrib.get("pid", 0))
    if threshold_mev is None:
        threshold_mev = _DS23_THRESHOLD_MEV if pid == 11 else _DS1_THRESHOLD_MEV
    extra = {k: v for k, v in particle_bin.attrib.items() if k not in ("pid", "name")}
    return Geometry(
        path.stem,
        particle_bin.attrib.get("name", "unknown"),
        pid,
        tuple(layers),
        threshold_mev,
        extra,
    )


def write_binning_xml(geometry: Geometry, path: str | Path) -> None:
    """Write a geometry in the official binning XML format."""
    root = ET.Element("Bins")
    attrs = {"pid": str(geometry.pid), **geometry.extra_xml_attrs, "name": geometry.particle}
    particle_bin = ET.SubElement(root, "Bin", attrs)
    for layer in geometry.layers:
        edges = ",".join(f"{e:g}" for e in layer.r_edges_mm)
        ET.SubElement(
            particle_bin,
            "Layer",
            {"id": str(layer.layer_id), "r_edges": edges, "n_bin_alpha": str(layer.n_alpha)},
        )
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="unicode")
