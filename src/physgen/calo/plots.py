"""Shower plots: average shower per layer in (r, alpha) and energy histograms, as PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from physgen.calo.features import ShowerFeatures  # noqa: E402
from physgen.calo.geometry import Geometry, LayerBinning  # noqa: E402
from physgen.core.atomic import atomic_path  # noqa: E402

__all__ = [
    "draw_layer_image",
    "layer_raster",
    "plot_average_layers",
    "plot_energy_histograms",
    "plot_file",
    "shared_log_range",
]

_RASTER_PIXELS = (200, 1600)  # per layer image side: at least two pixels per narrowest r bin


def shared_log_range(
    *mean_showers_mev: np.ndarray, dynamic_range: float = 1e6
) -> tuple[float, float]:
    """(vmin, vmax) of one logarithmic colour scale for all ``mean_showers_mev``: vmax is the
    largest voxel of any of them, vmin the smallest positive voxel but at most
    ``dynamic_range`` below vmax, so that images side by side compare colour for colour."""
    positive = np.concatenate([np.asarray(s, dtype=np.float64).ravel() for s in mean_showers_mev])
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if not positive.size:
        return 1e-3, 1.0
    vmax = float(positive.max())
    vmin = max(float(positive.min()), vmax / dynamic_range)
    return (vmin, vmax) if vmin < vmax else (vmax / 10, vmax)


def layer_raster(layer: LayerBinning, image: np.ndarray, n_pixels: int | None = None):
    """A layer's (n_alpha, n_r) image resampled on an ``n_pixels`` square grid of the
    transverse plane (x = r cos alpha, y = r sin alpha), NaN where ``image`` is masked; by
    default two pixels per narrowest radial bin (dataset 1's inner bins are 2% of its radius).
    Returns the raster, the mask of pixels inside the layer's radii and the extent (mm)."""
    r_edges = np.asarray(layer.r_edges_mm, dtype=np.float64)
    outer = r_edges[-1]
    if n_pixels is None:
        n_pixels = int(np.clip(4 * outer / np.diff(r_edges).min(), *_RASTER_PIXELS))
    centres = (np.arange(n_pixels) + 0.5) / n_pixels * 2 * outer - outer
    x, y = np.meshgrid(centres, centres[::-1])
    radius, alpha = np.hypot(x, y), np.arctan2(y, x)
    r_bin = np.searchsorted(r_edges, radius, side="right") - 1
    alpha_bin = np.clip(((alpha + np.pi) / (2 * np.pi) * layer.n_alpha).astype(int), 0, None)
    alpha_bin = np.minimum(alpha_bin, layer.n_alpha - 1)
    inside = (r_bin >= 0) & (r_bin < layer.n_r)
    values = np.ma.filled(np.ma.asarray(image, dtype=np.float64), np.nan)
    raster = np.full(radius.shape, np.nan)
    raster[inside] = values[alpha_bin[inside], r_bin[inside]]
    return raster, inside, (-outer, outer, -outer, outer)


def draw_layer_image(ax, layer: LayerBinning, image: np.ndarray, norm, cmap="viridis"):
    """One layer's (n_alpha, n_r) image as wedges in the transverse plane (mm), drawn as one
    raster image (fast in PNG and PDF alike); returns the AxesImage."""
    raster, inside, extent = layer_raster(layer, image)
    artist = ax.imshow(
        np.ma.masked_invalid(raster),
        extent=extent,
        norm=norm,
        cmap=cmap,
        alpha=inside.astype(np.float64),  # outside the layer: transparent, not "bad"
        interpolation="nearest",
        origin="upper",
    )
    ax.set_axis_off()
    return artist


def plot_average_layers(
    geometry: Geometry, mean_shower_mev: np.ndarray, path: Path, title: str = "average shower"
) -> Path:
    """Images of the mean energy per voxel for every active layer (log colour scale)."""
    images = geometry.layer_images(mean_shower_mev)
    n_cols = min(9, len(images))
    n_rows = int(np.ceil(len(images) / n_cols))
    fig = plt.figure(figsize=(2.0 * n_cols, 2.1 * n_rows + 0.6))
    norm = LogNorm(*shared_log_range(mean_shower_mev))
    cmap = plt.get_cmap("viridis").with_extremes(bad="white", under="white")
    mesh = None
    for index, (image, layer) in enumerate(zip(images, geometry.active_layers, strict=True)):
        ax = fig.add_subplot(n_rows, n_cols, index + 1)
        mesh = draw_layer_image(ax, layer, np.ma.masked_less_equal(image, 0), norm, cmap)
        ax.set_title(f"layer {layer.layer_id}", fontsize=8)
    if mesh is not None:
        fig.colorbar(mesh, ax=fig.axes, shrink=0.6, label="mean energy per voxel [MeV]")
    fig.suptitle(f"{title} ({geometry.name})")
    _save(fig, path)
    return path


def plot_energy_histograms(
    geometry: Geometry, features: ShowerFeatures, out_dir: Path
) -> list[Path]:
    """E_tot/E_inc and per-layer energy histograms."""
    paths = []
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.hist(
        features.e_tot / features.incident_energy, bins=np.linspace(0.5, 1.5, 101), histtype="step"
    )
    ax.set_xlabel(r"$E_\mathrm{tot} / E_\mathrm{inc}$")
    ax.set_ylabel("showers")
    fig.tight_layout()
    paths.append(out_dir / "etot_over_einc.png")
    _save(fig, paths[-1])

    n_layers = geometry.n_layers
    n_cols = min(9, n_layers)
    n_rows = int(np.ceil(n_layers / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(2.2 * n_cols, 1.9 * n_rows), squeeze=False)
    low = geometry.threshold_mev
    high = max(float(features.e_layer.max()), low * 10)
    bins = np.logspace(np.log10(low), np.log10(high), 41)
    for index, layer in enumerate(geometry.active_layers):
        ax = axes.flat[index]
        ax.hist(features.e_layer[:, index], bins=bins, histtype="step")
        ax.set_xscale("log")
        ax.set_title(f"layer {layer.layer_id}", fontsize=8)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[n_layers:]:
        ax.axis("off")
    fig.supxlabel("layer energy [MeV]")
    fig.tight_layout()
    paths.append(out_dir / "layer_energies.png")
    _save(fig, paths[-1])
    return paths


def _save(fig, target) -> None:
    """Write the figure to a file atomically (never a half-written PNG under its name) or to
    a buffer (the HTML report), and close it."""
    try:
        if hasattr(target, "write"):
            fig.savefig(target, dpi=90, format="png")
            return
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=90, format="png")
    finally:
        plt.close(fig)


def plot_file(path, out_dir, geometry: Geometry | None = None) -> list[Path]:
    """Average shower per layer and energy histograms of a CaloChallenge file."""
    from physgen.calo.evaluation_data import summarize_showers
    from physgen.calo.io import open_shower_file

    info = open_shower_file(path, geometry)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    no_voxel_bins = np.array([info.geometry.threshold_mev, np.inf])
    summary = summarize_showers(path, info.geometry, no_voxel_bins, None, keep_showers=False)
    average = plot_average_layers(
        info.geometry, summary.mean_shower, out_dir / "average_shower.png", title=info.path.name
    )
    return [average, *plot_energy_histograms(info.geometry, summary.features, out_dir)]
