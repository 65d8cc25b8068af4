"""The histograms of the CaloChallenge evaluation: every one the official script makes, with
its binning, and physgen's extras (EC_r, width_r, sparsity), each with its separation power."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physgen.calo.evaluation_data import ShowerSummary
from physgen.calo.features import eta_phi_layers
from physgen.calo.geometry import Geometry
from physgen.metrics.separation import HistogramComparison, compare_histograms, separation_power


@dataclass
class HistogramSpec:
    name: str
    label: str
    reference: np.ndarray
    generated: np.ndarray
    edges: np.ndarray
    log_x: bool = False
    log_y: bool = False  # as the official plots draw it
    official: bool = True  # one of the histograms of the official script (else a physgen extra)
    result: object = field(default=None)


def histogram_floor_mev(geometry: Geometry) -> float:
    """Lowest edge of the official log-binned energy histograms: the official script's
    min_energy, which is also its voxel threshold (0.5 keV / 0.033 for datasets 2/3, 1 MeV for
    dataset 1)."""
    return geometry.threshold_mev


def voxel_energy_edges(geometry: Geometry, reference_voxel_max: float) -> np.ndarray:
    """The official voxel-spectrum binning: 50 log-spaced edges from the floor to the largest
    reference voxel (49 bins)."""
    floor = histogram_floor_mev(geometry)
    top = max(float(reference_voxel_max), floor * 10)  # an empty reference keeps edges rising
    return np.logspace(np.log10(floor), np.log10(top), 50)


def _ranges_ds1(layer_id: int) -> tuple[tuple[float, float], tuple[float, float]]:
    wide = layer_id in (12, 13)
    return ((-500.0, 500.0), (0.0, 400.0)) if wide else ((-100.0, 100.0), (0.0, 100.0))


def histogram_specs(
    geometry: Geometry, ref: ShowerSummary, gen: ShowerSummary, voxel_edges: np.ndarray
) -> list[HistogramSpec]:
    """Every histogram of the official script, with its binning (edges computed by the same
    numpy calls, on float64 features), then physgen's extra histograms (``official=False``):
    EC_r, width_r and sparsity per layer."""
    rf, gf = ref.features, gen.features
    floor = histogram_floor_mev(geometry)
    specs = [
        HistogramSpec(
            "etot_over_einc",
            r"$E_{tot}/E_{inc}$",
            rf.e_tot / rf.incident_energy.astype(np.float64),
            gf.e_tot / gf.incident_energy.astype(np.float64),
            np.linspace(0.5, 1.5, 101),
        )
    ]
    angular = eta_phi_layers(geometry)
    extras = []
    for index, layer in enumerate(geometry.active_layers):
        tag = f"{layer.layer_id:02d}"
        reference_max = float(rf.e_layer[:, index].max())
        top = reference_max if reference_max > floor else floor * 10
        specs.append(
            HistogramSpec(
                f"e_layer_{tag}",
                f"E layer {layer.layer_id} [MeV]",
                rf.e_layer[:, index],
                gf.e_layer[:, index],
                np.logspace(np.log10(floor), np.log10(top), 40),
                log_x=True,
                log_y=True,
            )
        )
        if angular[index]:
            if geometry.pid == 11:
                centre_range, width_range = (-30.0, 30.0), (0.0, 30.0)
            else:
                centre_range, width_range = _ranges_ds1(layer.layer_id)
            for name, label, r_values, g_values, (lo, hi) in (
                ("ec_eta", "EC eta", rf.ec_eta, gf.ec_eta, centre_range),
                ("ec_phi", "EC phi", rf.ec_phi, gf.ec_phi, centre_range),
                ("width_eta", "width eta", rf.width_eta, gf.width_eta, width_range),
                ("width_phi", "width phi", rf.width_phi, gf.width_phi, width_range),
            ):
                specs.append(
                    HistogramSpec(
                        f"{name}_{tag}",
                        f"{label} layer {layer.layer_id} [mm]",
                        r_values[:, index],
                        g_values[:, index],
                        np.linspace(lo, hi, 101),
                    )
                )
        r_max = float(layer.r_edges_mm[-1])
        for name, label, r_values, g_values, edges in (
            ("ec_r", "EC r", rf.ec_r, gf.ec_r, np.linspace(0.0, r_max, 101)),
            ("width_r", "width r", rf.width_r, gf.width_r, np.linspace(0.0, r_max / 2, 101)),
            ("sparsity", "sparsity", rf.sparsity, gf.sparsity, np.linspace(0, 1, 21)),
        ):
            unit = "" if name == "sparsity" else " [mm]"
            extras.append(
                HistogramSpec(
                    f"{name}_{tag}",
                    f"{label} layer {layer.layer_id}{unit}",
                    r_values[:, index],
                    g_values[:, index],
                    edges,
                    official=False,
                )
            )
    if geometry.pid != 11:
        specs += _response_per_energy(geometry, rf, gf)
    voxel = HistogramSpec(
        "voxel_energy", "voxel energy [MeV]", None, None, voxel_edges, log_x=True, log_y=True
    )
    specs = specs + [voxel] + extras
    for spec in specs:
        if spec is not voxel:
            spec.result = compare_histograms(spec.reference, spec.generated, spec.edges)
    voxel.result = HistogramComparison(
        voxel_edges,
        ref.voxel_counts,
        gen.voxel_counts,
        separation_power(ref.voxel_counts, gen.voxel_counts, voxel_edges),
        ref.voxel_out_of_range,
        gen.voxel_out_of_range,
    )
    return specs


def _response_per_energy(geometry: Geometry, rf, gf) -> list[HistogramSpec]:
    """Dataset 1's E_tot/E_inc at each of its discrete energies, as the official script makes
    them: showers with E_inc in [2^k, 2^(k+1)) MeV for k = 8..22, 20 bins on [0.4, 1.4] (on
    [0.9, 1.1] for photons above 2^11 MeV)."""
    specs = []
    for index, k in enumerate(range(8, 23)):
        low, high = 2.0**k, 2.0 ** (k + 1)
        narrow = index > 3 and geometry.pid == 22
        edges = np.linspace(0.9, 1.1, 21) if narrow else np.linspace(0.4, 1.4, 21)
        values = []
        for features in (rf, gf):
            energy = features.incident_energy.astype(np.float64)
            chosen = (energy >= low) & (energy < high)
            values.append(features.e_tot[chosen] / energy[chosen])
        specs.append(
            HistogramSpec(
                f"etot_over_einc_e{int(low)}",
                f"$E_{{tot}}/E_{{inc}}$ at {low:g} MeV",
                *values,
                edges,
            )
        )
    return specs
