"""The key observables of the calorimeter evaluation report in bins of incident energy:
response E_tot/E_inc, shower depth and a radial width, as histograms per bin and as curves
against E_inc."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from physgen.calo.features import ShowerFeatures  # noqa: E402
from physgen.calo.geometry import Geometry  # noqa: E402
from physgen.calo.report_histograms import (  # noqa: E402
    GENERATED_COLOR,
    REFERENCE_COLOR,
    TiledFigure,
    draw_comparison,
)
from physgen.metrics.separation import HistogramComparison, compare_histograms  # noqa: E402


# --- key observables in bins of incident energy ----------------------------------------------
def shower_depth(features: ShowerFeatures, geometry: Geometry) -> np.ndarray:
    """Energy-weighted mean layer id of each shower (NaN for a shower without energy)."""
    layer_ids = np.array([layer.layer_id for layer in geometry.active_layers], dtype=np.float64)
    total = features.e_layer.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, features.e_layer @ layer_ids / total, np.nan)


def width_layer_index(
    geometry: Geometry, reference: ShowerFeatures, preferred_layer_id: int = 10
) -> int:
    """Index (among the active layers) of the layer whose radial width the report follows:
    layer ``preferred_layer_id`` where it holds voxels, else the layer with the most mean
    reference energy (the shower maximum)."""
    for index, layer in enumerate(geometry.active_layers):
        if layer.layer_id == preferred_layer_id:
            return index
    return int(np.argmax(reference.e_layer.mean(axis=0)))


def incident_energy_edges(incident_energy_mev: np.ndarray, n_bins: int = 5) -> np.ndarray:
    """Edges of ``n_bins`` logarithmic bins over the range of ``incident_energy_mev``; one bin
    per value for discrete energies (no more than ``n_bins`` distinct values)."""
    energies = np.asarray(incident_energy_mev, dtype=np.float64)
    energies = energies[np.isfinite(energies) & (energies > 0)]
    low, high = float(energies.min()), float(energies.max())
    distinct = np.unique(energies)
    if len(distinct) <= n_bins:
        inner = np.sqrt(distinct[1:] * distinct[:-1])
        return np.concatenate([[low * 0.999], inner, [high * 1.001]])
    edges = np.geomspace(low, high, n_bins + 1)
    edges[0], edges[-1] = low * 0.999, high * 1.001  # the extreme showers fall inside
    return edges


@dataclass
class EnergyBin:
    """One bin of incident energy: the showers of each sample in it and, per observable,
    the histogram comparison and (mean, error, std, std error) of both samples."""

    low_mev: float
    high_mev: float
    n_reference: int
    n_generated: int
    comparisons: dict[str, HistogramComparison]
    statistics: dict[str, dict[str, tuple[float, float, float, float]]]

    @property
    def label(self) -> str:
        return f"{_energy_text(self.low_mev)} - {_energy_text(self.high_mev)}"


def _energy_text(mev: float) -> str:
    return f"{mev / 1e3:.3g} GeV" if mev < 1e6 else f"{mev / 1e6:.3g} TeV"


def observables(features: ShowerFeatures, geometry: Geometry, width_index: int) -> dict:
    """The per-shower key observables: response, shower depth and a radial width."""
    return {
        "response": features.e_tot / features.incident_energy,
        "depth": shower_depth(features, geometry),
        "width": features.width_r[:, width_index],
    }


def observable_labels(geometry: Geometry, width_index: int) -> dict[str, str]:
    layer_id = geometry.active_layers[width_index].layer_id
    return {
        "response": r"$E_{tot}/E_{inc}$",
        "depth": "shower depth: energy-weighted mean layer",
        "width": f"width r layer {layer_id} [mm]",
    }


def _observable_edges(reference: np.ndarray, generated: np.ndarray, n_bins: int = 40):
    """Linear bins over the central 99.6% of both samples together (a shifted generated
    distribution stays in view), padded by a fifth of the range."""
    finite = [v[np.isfinite(v)] for v in (reference, generated)]
    finite = [v for v in finite if v.size]
    if not finite:
        return np.linspace(0, 1, n_bins + 1)
    low = min(float(np.quantile(v, 0.002)) for v in finite)
    high = max(float(np.quantile(v, 0.998)) for v in finite)
    pad = 0.2 * (high - low) or max(abs(low) * 0.05, 1e-3)
    return np.linspace(low - pad, high + pad, n_bins + 1)


def _statistics(values: np.ndarray) -> tuple[float, float, float, float]:
    values = values[np.isfinite(values)]
    n = len(values)
    if n < 2:
        return (np.nan,) * 4
    std = float(values.std(ddof=1))
    return float(values.mean()), std / np.sqrt(n), std, std / np.sqrt(2 * (n - 1))


def energy_bins(
    geometry: Geometry,
    reference: ShowerFeatures,
    generated: ShowerFeatures,
    n_bins: int = 5,
    min_showers: int = 10,
) -> tuple[list[EnergyBin], dict[str, str]]:
    """The key observables compared in ``n_bins`` log bins of the reference's incident
    energy (bins with fewer than ``min_showers`` showers in either sample are left out);
    returns the bins and the observables' labels."""
    width_index = width_layer_index(geometry, reference)
    edges = incident_energy_edges(reference.incident_energy, n_bins)
    ref_values = observables(reference, geometry, width_index)
    gen_values = observables(generated, geometry, width_index)
    bins = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        ref_in = (reference.incident_energy >= low) & (reference.incident_energy < high)
        gen_in = (generated.incident_energy >= low) & (generated.incident_energy < high)
        if ref_in.sum() < min_showers or gen_in.sum() < min_showers:
            continue
        comparisons, statistics = {}, {}
        for name in ref_values:
            ref_bin, gen_bin = ref_values[name][ref_in], gen_values[name][gen_in]
            comparisons[name] = compare_histograms(
                ref_bin, gen_bin, _observable_edges(ref_bin, gen_bin)
            )
            statistics[name] = {
                "reference": _statistics(ref_bin),
                "generated": _statistics(gen_bin),
            }
        bins.append(
            EnergyBin(
                float(low),
                float(high),
                int(ref_in.sum()),
                int(gen_in.sum()),
                comparisons,
                statistics,
            )
        )
    return bins, observable_labels(geometry, width_index)


def energy_bins_figure(bins: list[EnergyBin], labels: dict[str, str]) -> TiledFigure:
    """Rows: observables; columns: incident-energy bins."""
    names = list(labels)
    grid = TiledFigure.create(len(names) * len(bins), len(bins), tile_in=(3.3, 2.8))
    for row, name in enumerate(names):
        for col, energy_bin in enumerate(bins):
            ax_main, ax_ratio = grid.comparison_axes(row * len(bins) + col)
            result = energy_bin.comparisons[name]
            title = f"{labels[name]}\nE_inc {energy_bin.label}: S = {result.separation_power:.4f}"
            draw_comparison(ax_main, ax_ratio, result, title=title)
    grid.header("key observables in bins of incident energy")
    return grid


def energy_dependence_figure(bins: list[EnergyBin], labels: dict[str, str]):
    """Mean response, resolution, mean depth and mean width against incident energy, with
    standard errors, reference against generated, each with a ratio panel."""
    centres = np.array([np.sqrt(b.low_mev * b.high_mev) for b in bins]) / 1e3
    half_widths = np.array(
        [
            centres - np.array([b.low_mev for b in bins]) / 1e3,
            np.array([b.high_mev for b in bins]) / 1e3 - centres,
        ]
    )
    panels = (
        ("response", 0, r"mean $E_{tot}/E_{inc}$"),
        ("response", 2, r"resolution $\sigma/\mu$ of $E_{tot}/E_{inc}$"),
        ("depth", 0, "mean shower depth [layer]"),
        ("width", 0, f"mean {labels['width']}"),
    )
    fig = Figure(figsize=(16, 4.6))
    for column, (name, moment, title) in enumerate(panels):
        left = 0.045 + column * 0.245
        ax_main = fig.add_axes([left, 0.37, 0.2, 0.5])
        ax_ratio = fig.add_axes([left, 0.12, 0.2, 0.21], sharex=ax_main)
        series = {}
        for sample, color, marker in (
            ("reference", REFERENCE_COLOR, "o"),
            ("generated", GENERATED_COLOR, "s"),
        ):
            stats = np.array([b.statistics[name][sample] for b in bins])
            if moment == 0:
                value, error = stats[:, 0], stats[:, 1]
            else:  # resolution sigma / mu, its error from both
                value = stats[:, 2] / stats[:, 0]
                error = np.abs(value) * np.hypot(
                    stats[:, 3] / stats[:, 2], stats[:, 1] / stats[:, 0]
                )
            series[sample] = (value, error)
            ax_main.errorbar(
                centres,
                value,
                error,
                half_widths,
                fmt=marker,
                ms=4,
                color=color,
                label=sample,
                lw=1,
            )
        (ref_v, ref_e), (gen_v, gen_e) = series["reference"], series["generated"]
        ratio = gen_v / ref_v
        ratio_err = np.abs(ratio) * np.hypot(gen_e / gen_v, ref_e / ref_v)
        ax_ratio.errorbar(
            centres, ratio, ratio_err, half_widths, fmt="s", ms=4, color=GENERATED_COLOR, lw=1
        )
        ax_ratio.axhline(1, color=REFERENCE_COLOR, lw=0.8)
        finite = np.abs(ratio[np.isfinite(ratio)] - 1)
        spread = max(0.05, float(finite.max()) * 1.3) if finite.size else 0.05
        ax_ratio.set_ylim(1 - min(spread, 1), 1 + min(spread, 1))
        ax_main.set_xscale("log")
        ax_main.set_title(title, fontsize=10)
        ax_main.tick_params(labelbottom=False, labelsize=8)
        ax_ratio.tick_params(labelsize=8)
        ax_ratio.set_xlabel(r"$E_{inc}$ [GeV]")
        ax_ratio.set_ylabel("gen / ref", fontsize=8)
        if column == 0:
            ax_main.legend(fontsize=8, frameon=False)
    fig.suptitle(
        "energy dependence (horizontal bars: incident-energy bin, vertical: standard error)",
        fontsize=11,
    )
    return fig
