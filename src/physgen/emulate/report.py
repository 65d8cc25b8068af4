"""``physgen emulate report``: test error against simulator calls for learning runs, one curve
per strategy (committee runs give a curve each; design runs a point each, joined per
strategy), as ``error_vs_calls.png``, ``report.json`` and ``report.html``."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.core.html_report import figure_base64, html_table, image_tag, write_page

__all__ = ["collect_curves", "plot_curves", "write_report"]


def collect_curves(run_dirs) -> dict:
    """{simulator: {strategy: [(calls, rmse, noise_floor), ...] sorted by calls}}."""
    curves: dict = defaultdict(lambda: defaultdict(list))
    for run_dir in run_dirs:
        path = Path(run_dir) / "learning.json"
        if not path.is_file():
            raise PhysgenInputError(f"{run_dir}: no learning.json (not a finished learning run)")
        record = json.loads(path.read_text())
        points = record["curve"] if record["strategy"] == "committee" else record["curve"][-1:]
        for point in points:
            curves[record["simulator"]["simulator"]][record["strategy"]].append(
                (point["calls"], point["rmse"], point["noise_floor"])
            )
    return {sim: {k: sorted(v) for k, v in by.items()} for sim, by in curves.items()}


def plot_curves(curves: dict):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4), squeeze=False)
    for axis, (simulator, by_strategy) in zip(axes[0], curves.items(), strict=True):
        for strategy, points in by_strategy.items():
            calls, rmse, _ = zip(*points, strict=True)
            axis.plot(calls, rmse, "o-" if strategy != "committee" else ".-", label=strategy)
        floor = max(p[2] for points in by_strategy.values() for p in points)
        if floor > 0:
            axis.axhline(floor, color="grey", ls=":", label="test noise floor")
        axis.set(xscale="log", yscale="log", xlabel="simulator calls", title=simulator)
        axis.set_ylabel("test RMSE / summary spread")
        axis.legend()
    figure.tight_layout()
    return figure


def write_report(run_dirs, out) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = collect_curves(run_dirs)
    figure = plot_curves(curves)
    figure.savefig(out / "error_vs_calls.png", dpi=90)
    image = image_tag(figure_base64(figure))
    write_json_atomic(out / "report.json", curves)
    rows = [
        [simulator, strategy, str(calls), f"{rmse:.4g}", f"{floor:.3g}"]
        for simulator, by in curves.items()
        for strategy, points in by.items()
        for calls, rmse, floor in points
    ]
    table = html_table(["simulator", "strategy", "calls", "test RMSE", "noise floor"], rows)
    return write_page(out / "report.html", "physgen emulate: error vs calls", image + table)
