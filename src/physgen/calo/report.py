"""Self-contained HTML report of an evaluation: summary table, histograms with ratio panels,
average shower images (PNG embedded as base64)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from physgen.calo.plots import plot_average_layers
from physgen.core.html_report import figure_base64, image_tag, table_html, write_page

_GROUPS = (
    "etot_over_einc",
    "e_layer",
    "ec_eta",
    "ec_phi",
    "width_eta",
    "width_phi",
    "ec_r",
    "width_r",
    "sparsity",
    "voxel_energy",
)


def _draw(ax_main, ax_ratio, spec) -> None:
    result = spec.result
    edges = result.edges
    ref = result.reference_counts / max(result.reference_counts.sum(), 1)
    gen = result.generated_counts / max(result.generated_counts.sum(), 1)
    ax_main.stairs(ref, edges, fill=True, alpha=0.3, color="0.3", label="reference")
    ax_main.stairs(gen, edges, color="tab:red", label="generated")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(ref > 0, gen / ref, np.nan)
    ax_ratio.stairs(ratio, edges, color="tab:red")
    ax_ratio.axhline(1, color="0.3", lw=0.8)
    ax_ratio.set_ylim(0.5, 1.5)
    if spec.log_x:
        ax_main.set_xscale("log")
        ax_ratio.set_xscale("log")
    ax_main.set_title(f"{spec.label}\nS = {result.separation_power:.4f}", fontsize=7)
    ax_main.tick_params(labelsize=5, labelbottom=False)
    ax_ratio.tick_params(labelsize=5)


def _group_figure(specs) -> str:
    n_cols = min(9, len(specs))
    n_rows = int(np.ceil(len(specs) / n_cols))
    fig = plt.figure(figsize=(2.2 * n_cols, 2.8 * n_rows))
    outer = fig.add_gridspec(n_rows, n_cols, hspace=0.55, wspace=0.35)
    for index, spec in enumerate(specs):
        row, col = divmod(index, n_cols)
        inner = outer[row, col].subgridspec(2, 1, height_ratios=[3, 1], hspace=0.08)
        ax_main = fig.add_subplot(inner[0])
        ax_ratio = fig.add_subplot(inner[1], sharex=ax_main)
        _draw(ax_main, ax_ratio, spec)
    fig.axes[0].legend(fontsize=5)
    return figure_base64(fig)


def _average_images(geometry, ref_summary, gen_summary) -> list[tuple[str, str]]:
    images = []
    for title, summary in (("reference", ref_summary), ("generated", gen_summary)):
        buffer = io.BytesIO()
        plot_average_layers(geometry, summary.mean_shower, buffer, title=f"average {title} shower")
        images.append((title, base64.b64encode(buffer.getvalue()).decode()))
    return images


def _summary_rows(metrics: dict) -> list[tuple[str, str]]:
    rows = [
        ("showers compared", str(metrics["n_reference"])),
        ("invalid generated showers", str(metrics["n_generated_invalid"])),
    ]
    for suffix, label in (
        ("low", "low-level"),
        ("low_normed", "low-level normed"),
        ("high", "high-level"),
    ):
        if f"auc_{suffix}" in metrics:
            rows.append(
                (
                    f"classifier AUC ({label})",
                    f"{metrics[f'auc_{suffix}']:.4f} &plusmn; {metrics[f'auc_{suffix}_err']:.4f}",
                )
            )
            rows.append((f"classifier JSD ({label})", f"{metrics[f'jsd_{suffix}']:.4f}"))
    for key in ("fpd", "kpd"):
        if key in metrics:
            rows.append(
                (
                    f"{key.upper()} (x1e3)",
                    f"{metrics[key]:.4g} &plusmn; {metrics[key + '_err']:.2g}",
                )
            )
    if "separation_mean" in metrics:
        rows.append(("mean separation power", f"{metrics['separation_mean']:.4f}"))
        rows.append(("separation power E_tot/E_inc", f"{metrics['separation_etot_over_einc']:.4f}"))
    return rows


def write_report(path, metrics: dict, specs, geometry, ref_summary, gen_summary) -> Path:
    sections = []
    for group in _GROUPS:
        members = [s for s in specs if s.name == group or s.name.startswith(group + "_")]
        if members:
            sections.append(f"<h2>{html.escape(group)}</h2>{image_tag(_group_figure(members))}")
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in metrics.get("warnings", []))
    images = "".join(
        f"<h3>{t}</h3>{image_tag(b)}"
        for t, b in _average_images(geometry, ref_summary, gen_summary)
    )
    body = f"""<p>generated: {html.escape(metrics["generated"])}<br>
reference: {html.escape(metrics["reference"])}<br>geometry: {html.escape(metrics["geometry"])},
physgen {html.escape(metrics["physgen_version"])}</p>
{table_html(_summary_rows(metrics))}<ul>{warnings}</ul>
<h2>average showers</h2>{images}{"".join(sections)}"""
    return write_page(path, "physgen calorimeter evaluation", body)
