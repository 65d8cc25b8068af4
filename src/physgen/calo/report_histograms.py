"""Histogram figures of the calorimeter evaluation report: reference against generated with
Poisson bands, a ratio panel with propagated errors, and tiled grids of such panels that the
report cuts into one picture per panel (:class:`TiledFigure`). Figures are returned, never
written."""

from __future__ import annotations

import re
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator  # noqa: E402

from physgen.metrics.separation import HistogramComparison  # noqa: E402

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
