"""Figures of the calorimeter evaluation report (matplotlib, Agg): histogram comparisons with
statistical bands and ratio panels, tiled grids of them, average showers on one shared colour
scale with a difference map, and the key observables in bins of incident energy.

Every function returns figures (never writes files); ``physgen.calo.report`` stores them.
Grids are *tiled*: each panel fills one cell of a regular grid below a header band, so the
report can cut the rendered image into one picture per panel (:class:`TiledFigure`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator  # noqa: E402

from physgen.calo.features import ShowerFeatures  # noqa: E402
from physgen.calo.geometry import Geometry  # noqa: E402
from physgen.calo.plots import draw_layer_image, shared_log_range  # noqa: E402
from physgen.metrics.separation import HistogramComparison, compare_histograms  # noqa: E402

__all__ = [
    "REFERENCE_COLOR",
    "GENERATED_COLOR",
    "EnergyBin",
    "TiledFigure",
    "average_shower_figures",
    "difference_limit",
    "draw_comparison",
    "energy_bins",
    "energy_bins_figure",
    "energy_dependence_figure",
    "histogram_figure",
    "histogram_grid",
    "histogram_title",
    "incident_energy_edges",
    "longitudinal_profile_figure",
    "normalised_with_errors",
    "plain_label",
    "ratio_with_errors",
    "layer_radius_figure",
    "relative_difference",
    "out_of_range_note",
    "HistogramGrids",
    "shared_log_range",
    "shower_depth",
    "width_layer_index",
]

REFERENCE_COLOR = "0.35"
GENERATED_COLOR = "#d62728"
RATIO_LIMITS = (0.5, 1.5)
RATIO_TICKS = (0.6, 1.0, 1.4)  # none on the edges, where they would meet the main panel's


def plain_label(label: str) -> str:
    """A matplotlib label as plain text: ``$E_{tot}/E_{inc}$`` -> ``E_tot/E_inc``."""
    return re.sub(r"[${}\\]", "", label)


# --- histogram comparison ----------------------------------------------------------------------
def normalised_with_errors(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of the in-range entries per bin and its Poisson error, sqrt(n) / N."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return np.zeros_like(counts), np.zeros_like(counts)
    return counts / total, np.sqrt(counts) / total


def ratio_with_errors(
    reference_counts: np.ndarray, generated_counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ratio generated / reference of the normalised histograms and its Poisson error, both
    samples' relative errors added in quadrature (NaN where the reference bin is empty; an
    empty generated bin gets the error of one entry)."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    gen = np.asarray(generated_counts, dtype=np.float64)
    ref_total, gen_total = ref.sum(), gen.sum()
    ratio = np.full_like(ref, np.nan)
    error = np.full_like(ref, np.nan)
    if ref_total <= 0 or gen_total <= 0:
        return ratio, error
    filled = ref > 0
    scale = ref_total / gen_total
    ratio[filled] = gen[filled] / ref[filled] * scale
    relative = np.sqrt(1 / ref[filled] + 1 / np.maximum(gen[filled], 1))
    error[filled] = np.maximum(ratio[filled], scale / ref[filled]) * relative
    return ratio, error


def _steps(edges: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Corner points of a step histogram (cheaper to draw than ``stairs`` patches)."""
    return np.repeat(edges, 2)[1:-1], np.repeat(values, 2)


def _limits_main(values: list[np.ndarray], uppers: list[np.ndarray], log_y: bool):
    top = max((float(np.nanmax(u)) for u in uppers if u.size), default=1.0) or 1.0
    if not log_y:
        return 0.0, 1.12 * top
    positive = np.concatenate([v[v > 0] for v in values])
    bottom = float(positive.min()) if positive.size else top * 1e-3
    return bottom * 0.4, top * 2.5


def draw_comparison(
    ax_main,
    ax_ratio,
    result: HistogramComparison,
    log_x: bool = False,
    log_y: bool = False,
    title: str | None = None,
    full: bool = False,
    labels: tuple[str, str] = ("reference", "generated"),
) -> None:
    """Reference (grey band and line) against generated (red) with their Poisson bands, and
    the ratio generated / reference with its propagated band; ratios off the panel are
    drawn as triangles on its edge."""
    edges = np.asarray(result.edges, dtype=np.float64)
    samples = (
        (result.reference_counts, REFERENCE_COLOR, labels[0], 0.35),
        (result.generated_counts, GENERATED_COLOR, labels[1], 0.25),
    )
    normalised = [normalised_with_errors(sample[0]) for sample in samples]
    bottom, top = _limits_main(
        [value for value, _ in normalised], [value + error for value, error in normalised], log_y
    )
    for (_, color, label, fill_alpha), (value, error) in zip(samples, normalised, strict=True):
        lower = np.maximum(value - error, bottom * 1e-3 if log_y else 0.0)
        x, y_low = _steps(edges, lower)
        _, y_high = _steps(edges, value + error)
        ax_main.fill_between(x, y_low, y_high, color=color, alpha=fill_alpha, lw=0)
        shown = np.where(value > 0, value, np.nan) if log_y else value
        ax_main.plot(*_steps(edges, shown), color=color, lw=1.3 if full else 1.0, label=label)
    ratio, ratio_error = ratio_with_errors(result.reference_counts, result.generated_counts)
    x, r_low = _steps(edges, ratio - ratio_error)
    _, r_high = _steps(edges, ratio + ratio_error)
    ax_ratio.fill_between(x, r_low, r_high, color=GENERATED_COLOR, alpha=0.25, lw=0)
    ax_ratio.plot(*_steps(edges, ratio), color=GENERATED_COLOR, lw=1.0)
    ax_ratio.axhline(1.0, color=REFERENCE_COLOR, lw=0.8)
    centres = np.sqrt(edges[1:] * edges[:-1]) if log_x else 0.5 * (edges[1:] + edges[:-1])
    low, high = RATIO_LIMITS
    for beyond, y, marker in ((ratio > high, high - 0.03, "^"), (ratio < low, low + 0.03, "v")):
        if beyond.any():
            ax_ratio.plot(
                centres[beyond], np.full(beyond.sum(), y), marker, ms=3, color=GENERATED_COLOR
            )

    for ax in (ax_main, ax_ratio):
        ax.set_xscale("log" if log_x else "linear")
        ax.set_xlim(edges[0], edges[-1])
        ax.tick_params(labelsize=8 if full else 6.5, length=3, pad=2)
    ax_main.set_yscale("log" if log_y else "linear")
    ax_main.set_ylim(bottom, top)
    ax_ratio.set_ylim(low, high)
    ax_ratio.set_yticks(RATIO_TICKS)
    ax_main.xaxis.set_major_locator(NullLocator())
    ax_main.xaxis.set_minor_locator(NullLocator())
    if not full:  # minor ticks are most of a small panel's drawing time
        ax_main.yaxis.set_minor_locator(NullLocator())
        ax_ratio.xaxis.set_minor_locator(NullLocator())
    ax_main.yaxis.set_major_locator(
        LogLocator(numticks=5) if log_y else MaxNLocator(4, prune="lower")
    )
    if not log_x:
        ax_ratio.xaxis.set_major_locator(MaxNLocator(5))
    if title:
        ax_main.set_title(title, fontsize=11 if full else 7.5, y=1.0, pad=3)
    if full:
        ax_main.set_ylabel("fraction of entries per bin")
        ax_ratio.set_ylabel("gen / ref")
        ax_main.legend(fontsize=9, frameon=False, loc="best")


def out_of_range_note(result: HistogramComparison, tolerance: float = 0.001) -> str:
    """Where the samples differ in the fraction of entries outside the binning (an empty
    layer is below the lowest edge of its energy histogram, in both samples)."""
    ref, gen = result.reference_out_of_range, result.generated_out_of_range
    if abs(gen - ref) <= tolerance:
        return ""
    return f"out of range: ref {100 * ref:.1f}%, gen {100 * gen:.1f}%"


def histogram_title(spec, floor_power: float | None = None) -> str:
    """Label, separation power (and the Geant4 floor's), out-of-range note."""
    line = f"S = {spec.result.separation_power:.4f}"
    if floor_power is not None:
        line += f" (G4 floor {floor_power:.4f})"
    note = out_of_range_note(spec.result)
    return f"{spec.label}\n{line}" + (f"\n{note}" if note else "")


def histogram_figure(spec, floor_power: float | None = None, heading: str = ""):
    """One histogram comparison at full size (6.4 x 4.8 in)."""
    fig = Figure(figsize=(6.4, 4.8))
    ax_main = fig.add_axes([0.13, 0.33, 0.83, 0.56])
    ax_ratio = fig.add_axes([0.13, 0.11, 0.83, 0.2])
    title = histogram_title(spec, floor_power)
    draw_comparison(ax_main, ax_ratio, spec.result, spec.log_x, spec.log_y, title=title, full=True)
    ax_ratio.set_xlabel(spec.label)
    if heading:
        fig.text(0.01, 0.99, heading, fontsize=9, va="top", color="0.3")
    return fig


@dataclass
class TiledFigure:
    """A figure whose panels fill the cells of an ``n_rows`` x ``n_cols`` grid below a
    header band of ``header_in`` inches."""

    fig: object
    n_rows: int
    n_cols: int
    count: int
    tile_in: tuple[float, float]
    header_in: float

    @classmethod
    def create(cls, count: int, n_cols: int, tile_in=(3.3, 2.8), header_in: float = 0.5):
        n_cols = max(1, min(n_cols, count))
        n_rows = int(np.ceil(count / n_cols))
        width, height = tile_in
        fig = Figure(figsize=(n_cols * width, n_rows * height + header_in))
        return cls(fig, n_rows, n_cols, count, tile_in, header_in)

    def rect(self, index: int, left: float, bottom: float, width: float, height: float):
        """Figure-fraction rectangle of a box given in inches inside tile ``index``."""
        row, col = divmod(index, self.n_cols)
        tile_w, tile_h = self.tile_in
        fig_w = self.n_cols * tile_w
        fig_h = self.n_rows * tile_h + self.header_in
        x0 = col * tile_w + left
        y0 = (self.n_rows - 1 - row) * tile_h + bottom
        return [x0 / fig_w, y0 / fig_h, width / fig_w, height / fig_h]

    def comparison_axes(self, index: int):
        """Main and ratio axes of a histogram panel in tile ``index``."""
        tile_w, tile_h = self.tile_in
        left, right, bottom, top = 0.52, 0.1, 0.3, 0.46
        width = tile_w - left - right
        plot_h = tile_h - bottom - top
        ratio_h = 0.27 * plot_h
        ax_ratio = self.fig.add_axes(self.rect(index, left, bottom, width, ratio_h))
        ax_main = self.fig.add_axes(
            self.rect(index, left, bottom + ratio_h + 0.04, width, plot_h - ratio_h - 0.04)
        )
        return ax_main, ax_ratio

    def header(self, text: str) -> None:
        """The heading and, below it, the colour legend (the header band is not a panel)."""
        fig_w = self.n_cols * self.tile_in[0]
        fig_h = self.n_rows * self.tile_in[1] + self.header_in
        x0 = 0.06 / fig_w
        self.fig.text(x0, 1 - 0.06 / fig_h, text, fontsize=11, va="top", weight="bold")
        for offset_in, label, color in (
            (0.0, "reference", REFERENCE_COLOR),
            (0.8, "generated", GENERATED_COLOR),
        ):
            self.fig.text(
                x0 + offset_in / fig_w, 1 - 0.28 / fig_h, label, color=color, fontsize=9, va="top"
            )

    def header_px(self, dpi: float) -> int:
        return int(round(self.header_in * dpi))


class HistogramGrids:
    """Tiled grids of compact histogram panels. Grids of the same size reuse one figure, its
    axes and their ticks (creating those is most of matplotlib's time for small panels): a
    grid is valid until the next call, so store it before asking for the next one."""

    def __init__(self, n_cols: int = 9):
        self.n_cols = n_cols
        self._cache: dict[int, tuple[TiledFigure, list]] = {}

    def draw(self, specs, heading: str, floor_powers: dict | None = None) -> TiledFigure:
        cached = self._cache.get(len(specs))
        if cached is None:
            grid = TiledFigure.create(len(specs), self.n_cols)
            axes = [grid.comparison_axes(index) for index in range(len(specs))]
            self._cache[len(specs)] = (grid, axes)
        else:
            grid, axes = cached
            for text in list(grid.fig.texts):
                text.remove()
            for ax in (ax for pair in axes for ax in pair):
                for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
                    artist.remove()
        floor_powers = floor_powers or {}
        for spec, (ax_main, ax_ratio) in zip(specs, axes, strict=True):
            title = histogram_title(spec, floor_powers.get(spec.name))
            draw_comparison(ax_main, ax_ratio, spec.result, spec.log_x, spec.log_y, title=title)
        grid.header(heading)
        return grid

    def close(self) -> None:
        self._cache.clear()


def histogram_grid(specs, heading: str, floor_powers: dict | None = None, n_cols: int = 9):
    """All ``specs`` as a tiled grid of compact histogram panels (a new figure)."""
    return HistogramGrids(n_cols).draw(specs, heading, floor_powers)


# --- average showers ---------------------------------------------------------------------------
def relative_difference(
    geometry: Geometry,
    reference_mean: np.ndarray,
    generated_mean: np.ndarray,
    min_fraction: float = 0.01,
) -> np.ma.MaskedArray:
    """(generated - reference) / reference per voxel, masked where the reference mean is
    below ``min_fraction`` of its layer's largest voxel (too rarely hit to compare)."""
    reference_mean = np.asarray(reference_mean, dtype=np.float64)
    generated_mean = np.asarray(generated_mean, dtype=np.float64)
    valid = np.zeros(reference_mean.shape, dtype=bool)
    for layer_slice in geometry.layer_slices:
        peak = reference_mean[layer_slice].max(initial=0.0)
        valid[layer_slice] = (reference_mean[layer_slice] >= min_fraction * peak) & (peak > 0)
    difference = np.zeros_like(reference_mean)
    difference[valid] = generated_mean[valid] / reference_mean[valid] - 1
    return np.ma.masked_array(difference, mask=~valid)


def difference_limit(values, weights=None, quantile: float = 0.8) -> float:
    """Symmetric colour limit of a difference map: the (``weights``-weighted) ``quantile`` of
    |values| over the unmasked entries, rounded up to 0.02, 0.05, 0.1, 0.2, 0.5 or 1."""
    magnitudes = np.abs(np.ma.filled(np.ma.asarray(values, dtype=np.float64), np.nan)).ravel()
    weights = np.ones_like(magnitudes) if weights is None else np.asarray(weights).ravel()
    keep = np.isfinite(magnitudes) & (weights > 0)
    top = 0.0
    if keep.any():
        order = np.argsort(magnitudes[keep])
        cumulative = np.cumsum(weights[keep][order])
        index = min(np.searchsorted(cumulative, quantile * cumulative[-1]), len(order) - 1)
        top = float(magnitudes[keep][order][index])
    for limit in (0.02, 0.05, 0.1, 0.2, 0.5):
        if top <= limit:
            return limit
    return 1.0


def _draw_layers(geometry, images, norm, cmap, heading, colorbar_label, extend="neither"):
    """One panel per layer below a header with the heading and a horizontal colour bar."""
    n_cols = min(9, geometry.n_layers)
    grid = TiledFigure.create(geometry.n_layers, n_cols, tile_in=(1.75, 1.9), header_in=0.9)
    artist = None
    for index, (image, layer) in enumerate(zip(images, geometry.active_layers, strict=True)):
        ax = grid.fig.add_axes(grid.rect(index, 0.08, 0.05, 1.6, 1.6))
        artist = draw_layer_image(ax, layer, image, norm, cmap)
        ax.set_title(f"layer {layer.layer_id}", fontsize=8, y=1.0, pad=1)
    fig_w = grid.n_cols * grid.tile_in[0]
    fig_h = grid.n_rows * grid.tile_in[1] + grid.header_in
    grid.fig.text(0.06 / fig_w, 1 - 0.1 / fig_h, heading, fontsize=11, weight="bold", va="top")
    bar_w = min(0.45, 5.0 / fig_w)
    cax = grid.fig.add_axes([0.97 - bar_w, 1 - 0.4 / fig_h, bar_w, 0.13 / fig_h])
    bar = grid.fig.colorbar(artist, cax=cax, orientation="horizontal", extend=extend)
    bar.set_label(colorbar_label, fontsize=8, labelpad=1)
    bar.ax.tick_params(labelsize=7)
    return grid


def average_shower_figures(
    geometry: Geometry, reference_mean: np.ndarray, generated_mean: np.ndarray
) -> dict[str, TiledFigure]:
    """Average reference and generated showers per layer on ONE logarithmic colour scale
    (:func:`shared_log_range` over both), and their relative difference per voxel on a
    diverging scale. Keys: reference, generated, difference."""
    vmin, vmax = shared_log_range(reference_mean, generated_mean)
    viridis = matplotlib.colormaps["viridis"].with_extremes(bad="white", under="white")
    figures = {}
    for key, mean in (("reference", reference_mean), ("generated", generated_mean)):
        images = [np.ma.masked_less_equal(i, 0) for i in geometry.layer_images(mean)]
        figures[key] = _draw_layers(
            geometry,
            images,
            LogNorm(vmin, vmax),
            viridis,
            f"average {key} shower ({geometry.name})",
            "mean energy per voxel [MeV] (one scale for reference and generated)",
        )
    difference = relative_difference(geometry, reference_mean, generated_mean)
    limit = difference_limit(difference)
    figures["difference"] = _draw_layers(
        geometry,
        geometry.layer_images(difference),
        Normalize(-limit, limit),
        matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.8"),
        "average shower: (generated - reference) / reference",
        "relative difference per voxel (grey: reference below 1% of its layer's peak)",
        extend="both",
    )
    return figures


def _radial_profiles(geometry: Geometry, mean_shower: np.ndarray) -> list[np.ndarray]:
    """Mean energy per radial bin of each layer (summed over alpha), MeV."""
    return [image.sum(axis=0) for image in geometry.layer_images(np.asarray(mean_shower))]


def layer_radius_figure(geometry: Geometry, reference_mean: np.ndarray, generated_mean: np.ndarray):
    """The average showers summed over alpha, in the (r, layer) plane: reference and
    generated on one logarithmic scale, and their relative difference (summing over alpha
    makes it far less noisy than the per-voxel map)."""
    reference = _radial_profiles(geometry, reference_mean)
    generated = _radial_profiles(geometry, generated_mean)
    vmin, vmax = shared_log_range(*reference, *generated, dynamic_range=1e5)
    peak = max(float(profile.max(initial=0)) for profile in reference)
    fig = Figure(figsize=(15, 4.8))
    panels = (
        ("reference", reference, LogNorm(vmin, vmax), "viridis"),
        ("generated", generated, LogNorm(vmin, vmax), "viridis"),
        ("(generated - reference) / reference", None, None, "RdBu_r"),
    )
    differences = [
        np.ma.masked_where(ref < 1e-4 * peak, gen / np.where(ref > 0, ref, 1) - 1)
        for ref, gen in zip(reference, generated, strict=True)
    ]
    limit = difference_limit(np.ma.concatenate(differences))
    for column, (title, profiles, norm, cmap) in enumerate(panels):
        ax = fig.add_axes([0.045 + column * 0.325, 0.13, 0.235, 0.74])
        if profiles is None:
            profiles, norm = differences, Normalize(-limit, limit)
        colours = matplotlib.colormaps[cmap].with_extremes(bad="0.8", under="white")
        for row, profile in enumerate(profiles):  # rows: active layers (ids may skip)
            shown = np.ma.masked_invalid(
                np.ma.masked_less_equal(profile, 0) if cmap == "viridis" else profile
            )
            mesh = ax.pcolormesh(
                np.asarray(geometry.active_layers[row].r_edges_mm),
                [row - 0.5, row + 0.5],
                shown[None, :],
                norm=norm,
                cmap=colours,
            )
        step = max(1, int(np.ceil(geometry.n_layers / 12)))
        rows = np.arange(0, geometry.n_layers, step)
        ax.set_yticks(rows, [str(geometry.active_layers[r].layer_id) for r in rows])
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("r [mm]")
        ax.set_ylabel("layer")
        ax.tick_params(labelsize=8)
        bar = fig.colorbar(
            mesh, ax=ax, fraction=0.06, pad=0.02, extend="both" if column == 2 else "neither"
        )
        bar.ax.tick_params(labelsize=7)
        bar.set_label(
            "relative difference" if column == 2 else "mean energy per r bin [MeV]", fontsize=8
        )
    fig.suptitle(
        "average shower summed over alpha, per layer and radial bin "
        "(grey: reference below 1e-4 of its peak)",
        fontsize=11,
    )
    return fig


def _mean_and_error(values: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    n = values.shape[axis]
    return values.mean(axis), values.std(axis) / np.sqrt(max(n - 1, 1))


def longitudinal_profile_figure(
    geometry: Geometry, reference: ShowerFeatures, generated: ShowerFeatures
):
    """Mean energy per layer (the longitudinal profile) and the mean radial centre and width
    per layer, reference against generated, each with a ratio panel."""
    layer_ids = np.array([layer.layer_id for layer in geometry.active_layers], dtype=float)
    fig = Figure(figsize=(15, 4.4))
    panels = (
        ("e_layer", "mean energy per layer [MeV]", True),
        ("ec_r", "mean EC r per layer [mm]", False),
        ("width_r", "mean width r per layer [mm]", False),
    )
    for column, (name, label, log_y) in enumerate(panels):
        left = 0.05 + column * 0.33
        ax_main = fig.add_axes([left, 0.36, 0.27, 0.52])
        ax_ratio = fig.add_axes([left, 0.12, 0.27, 0.2], sharex=ax_main)
        ref_mean, ref_err = _mean_and_error(getattr(reference, name))
        gen_mean, gen_err = _mean_and_error(getattr(generated, name))
        for mean, err, color, label_text, marker in (
            (ref_mean, ref_err, REFERENCE_COLOR, "reference", "o"),
            (gen_mean, gen_err, GENERATED_COLOR, "generated", "s"),
        ):
            ax_main.errorbar(
                layer_ids, mean, err, fmt=marker, ms=3, color=color, label=label_text, lw=1
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = gen_mean / ref_mean
            ratio_err = np.abs(ratio) * np.hypot(gen_err / gen_mean, ref_err / ref_mean)
        ax_ratio.errorbar(layer_ids, ratio, ratio_err, fmt="s", ms=3, color=GENERATED_COLOR)
        ax_ratio.axhline(1, color=REFERENCE_COLOR, lw=0.8)
        finite = ratio[np.isfinite(ratio)]
        spread = max(0.1, float(np.max(np.abs(finite - 1))) * 1.2) if finite.size else 0.1
        ax_ratio.set_ylim(1 - min(spread, 1), 1 + min(spread, 1))
        if log_y:
            ax_main.set_yscale("log")
        ax_main.set_title(label, fontsize=10)
        ax_main.tick_params(labelbottom=False, labelsize=8)
        ax_ratio.tick_params(labelsize=8)
        ax_ratio.set_xlabel("layer")
        ax_ratio.set_ylabel("gen / ref", fontsize=8)
        if column == 0:
            ax_main.legend(fontsize=8, frameon=False)
    fig.suptitle("average shower profile per layer (error bars: standard error)", fontsize=11)
    return fig


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
