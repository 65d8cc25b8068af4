"""An independent float64 implementation of the official CaloChallenge histogram set.

Written from the published definitions (CaloChallenge 2022 evaluation, arXiv:2410.21611 and
the challenge homepage), not from physgen's code, so that ``evaluate_parity.py`` can check
physgen's separation powers against a second implementation:

- voxel threshold (datasets 2/3): voxels below 0.5 keV / 0.033 = 15.15 keV are set to 0;
- E_tot / E_inc on 100 uniform bins on [0.5, 1.5];
- E_layer per layer on 39 log bins, ``np.logspace(log10(threshold), log10(max reference
  E_layer of that layer), 40)``;
- energy-weighted centres EC_eta, EC_phi per layer (eta = r cos(alpha), phi = r sin(alpha) of
  the voxel bin centres) on 100 bins on [-30, 30] mm and their widths
  sqrt(max(<x^2> - <x>^2, 0)) on 100 bins on [0, 30] mm, with <f> = sum(f E) / (sum E + 1e-16);
- the spectrum of all voxel energies on ``np.logspace(log10(threshold), log10(largest
  reference voxel), 50)``;
- separation power (triangular discrimination) S = 1/2 sum (p - q)^2 / (p + q + 1e-16), with
  p, q the ``density=True`` histograms times the bin widths (entries outside the edges are
  dropped; a histogram with no entry in range gives NaN).

Only the binning reader of ``physgen.calo.geometry`` is used (to parse the XML); every bin
centre, feature and histogram is computed here. Everything runs in float64 and holds both
files in memory: meant for the small shared files (2500 showers of dataset 2), not for full
100k-shower files.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from physgen.calo.geometry import read_binning_xml

__all__ = [
    "THRESHOLD_DS23_MEV",
    "LayerCentres",
    "layer_centres",
    "read_file",
    "apply_threshold",
    "shower_features",
    "separation_power",
    "histogram_set",
    "separation_powers",
]

THRESHOLD_DS23_MEV = 0.5e-3 / 0.033  # 0.5 keV in silicon / sampling fraction 0.033
CENTRE_RANGE_MM = (-30.0, 30.0)  # EC_eta, EC_phi (datasets 2/3)
WIDTH_RANGE_MM = (0.0, 30.0)  # width_eta, width_phi (datasets 2/3)
ETOT_RANGE = (0.5, 1.5)
N_LINEAR_EDGES = 101
N_LAYER_EDGES = 40
N_VOXEL_EDGES = 50
EPS = 1e-16


class LayerCentres:
    """Voxel bin centres of one readout layer, in file order (alpha, r), r fastest."""

    def __init__(self, layer_id: int, r_edges_mm, n_alpha: int, start: int):
        r_edges = np.asarray(r_edges_mm, dtype=np.float64)
        self.layer_id = int(layer_id)
        self.n_alpha = int(n_alpha)
        self.n_r = len(r_edges) - 1
        self.start = int(start)
        self.stop = self.start + self.n_alpha * self.n_r
        r_mid = r_edges[:-1] + (r_edges[1:] - r_edges[:-1]) / 2
        alpha_edges = np.linspace(-np.pi, np.pi, self.n_alpha + 1)
        alpha_mid = alpha_edges[:-1] + (alpha_edges[1:] - alpha_edges[:-1]) / 2
        # (n_alpha, n_r) grids flattened with r running fastest, as the voxels are stored
        r_grid, alpha_grid = np.meshgrid(r_mid, alpha_mid)
        self.eta = (r_grid * np.cos(alpha_grid)).ravel()
        self.phi = (r_grid * np.sin(alpha_grid)).ravel()

    @property
    def has_alpha(self) -> bool:
        return self.n_alpha > 1


def layer_centres(binning_xml: str | Path) -> list[LayerCentres]:
    """One ``LayerCentres`` per layer that holds voxels, in file order."""
    geometry = read_binning_xml(binning_xml)
    layers, start = [], 0
    for layer in geometry.layers:
        n_r = len(layer.r_edges_mm) - 1
        if n_r < 1:
            continue  # an empty layer (r_edges="0") holds no voxel
        layers.append(LayerCentres(layer.layer_id, layer.r_edges_mm, layer.n_alpha, start))
        start = layers[-1].stop
    return layers


def read_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(incident energies (N,), showers (N, n_voxels)) of a CaloChallenge file, in float64."""
    with h5py.File(path, "r") as f:
        incident = np.asarray(f["incident_energies"][:], dtype=np.float64).reshape(-1)
        showers = np.asarray(f["showers"][:], dtype=np.float64)
    if showers.ndim != 2 or len(showers) != len(incident):
        raise ValueError(f"{path}: showers {showers.shape} do not match energies {incident.shape}")
    return incident, showers


def apply_threshold(showers: np.ndarray, threshold_mev: float = THRESHOLD_DS23_MEV) -> np.ndarray:
    """Voxels below the threshold set to 0 (a new array)."""
    return np.where(showers < threshold_mev, 0.0, showers)


def shower_features(showers: np.ndarray, layers: list[LayerCentres]) -> dict[str, np.ndarray]:
    """High-level features in float64: ``e_tot`` (N,) and, per layer id, ``e_layer``,
    ``ec_eta``, ``ec_phi``, ``width_eta``, ``width_phi`` as dicts of (N,) arrays."""
    showers = np.asarray(showers, dtype=np.float64)
    if showers.shape[1] != layers[-1].stop:
        raise ValueError(f"showers have {showers.shape[1]} voxels, geometry {layers[-1].stop}")
    out = {"e_tot": showers.sum(axis=1)}
    for key in ("e_layer", "ec_eta", "ec_phi", "width_eta", "width_phi"):
        out[key] = {}
    for layer in layers:
        energy = showers[:, layer.start : layer.stop]
        e_layer = energy.sum(axis=1)
        out["e_layer"][layer.layer_id] = e_layer
        if not layer.has_alpha:
            continue
        norm = e_layer + EPS
        for axis, x in (("eta", layer.eta), ("phi", layer.phi)):
            mean = (energy * x).sum(axis=1) / norm
            second = (energy * x * x).sum(axis=1) / norm
            out[f"ec_{axis}"][layer.layer_id] = mean
            out[f"width_{axis}"][layer.layer_id] = np.sqrt(np.clip(second - mean**2, 0.0, None))
    return out


def _probabilities(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        density, _ = np.histogram(values, bins=edges, density=True)
    return density * np.diff(edges)


def separation_power(reference: np.ndarray, generated: np.ndarray, edges: np.ndarray) -> float:
    """Triangular discrimination of two samples histogrammed on ``edges``."""
    p = _probabilities(np.asarray(reference, dtype=np.float64).ravel(), edges)
    q = _probabilities(np.asarray(generated, dtype=np.float64).ravel(), edges)
    return float(0.5 * np.sum((p - q) ** 2 / (p + q + EPS)))


def histogram_set(
    generated: tuple[np.ndarray, np.ndarray],
    reference: tuple[np.ndarray, np.ndarray],
    layers: list[LayerCentres],
    floor_mev: float = THRESHOLD_DS23_MEV,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every histogram of the official set as name -> (edges, reference values, generated
    values); ``generated`` and ``reference`` are (incident energies, showers) as given
    (threshold them first with ``apply_threshold`` to follow the official evaluation)."""
    (gen_inc, gen_showers), (ref_inc, ref_showers) = generated, reference
    gf, rf = shower_features(gen_showers, layers), shower_features(ref_showers, layers)
    hists = {
        "etot_over_einc": (
            np.linspace(*ETOT_RANGE, N_LINEAR_EDGES),
            rf["e_tot"] / ref_inc,
            gf["e_tot"] / gen_inc,
        )
    }
    for key in ("e_layer", "ec_eta", "ec_phi", "width_eta", "width_phi"):
        for layer_id in rf[key]:
            ref_values, gen_values = rf[key][layer_id], gf[key][layer_id]
            if key == "e_layer":
                top = np.log10(ref_values.max())
                edges = np.logspace(np.log10(floor_mev), top, N_LAYER_EDGES)
            elif key.startswith("ec_"):
                edges = np.linspace(*CENTRE_RANGE_MM, N_LINEAR_EDGES)
            else:
                edges = np.linspace(*WIDTH_RANGE_MM, N_LINEAR_EDGES)
            hists[f"{key}_{layer_id:02d}"] = (edges, ref_values, gen_values)
    voxel_edges = np.logspace(np.log10(floor_mev), np.log10(ref_showers.max()), N_VOXEL_EDGES)
    hists["voxel_energy"] = (voxel_edges, ref_showers, gen_showers)
    return hists


def separation_powers(
    generated_file: str | Path,
    reference_file: str | Path,
    binning_xml: str | Path,
    threshold: bool = True,
    threshold_mev: float = THRESHOLD_DS23_MEV,
) -> dict[str, float]:
    """Separation power of every official histogram (227 for dataset 2), name -> S.
    ``threshold=False`` histograms the voxels as stored (the binning floor is still the
    threshold)."""
    layers = layer_centres(binning_xml)
    gen_inc, gen_showers = read_file(generated_file)
    ref_inc, ref_showers = read_file(reference_file)
    if threshold:
        gen_showers = apply_threshold(gen_showers, threshold_mev)
        ref_showers = apply_threshold(ref_showers, threshold_mev)
    hists = histogram_set(
        (gen_inc, gen_showers), (ref_inc, ref_showers), layers, floor_mev=threshold_mev
    )
    return {name: separation_power(ref, gen, edges) for name, (edges, ref, gen) in hists.items()}
