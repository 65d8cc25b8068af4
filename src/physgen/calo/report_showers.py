"""Average-shower figures of the calorimeter evaluation report: reference and generated per
layer on one shared colour scale, their relative difference, the (layer, r) plane and the
longitudinal profiles."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from physgen.calo.features import ShowerFeatures  # noqa: E402
from physgen.calo.geometry import Geometry  # noqa: E402
from physgen.calo.plots import draw_layer_image, shared_log_range  # noqa: E402
from physgen.calo.report_histograms import GENERATED_COLOR, REFERENCE_COLOR, TiledFigure  # noqa: E402


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
