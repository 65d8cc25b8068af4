"""HTML report of a jet-emulator evaluation: metrics table, response distributions per pT bin,
output marginals and PIT histograms."""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from physgen.core.html_report import figure_base64, image_tag, table_html, write_page
from physgen.jets.evaluate import JET_NAMES, PT_BINS
from physgen.jets.features import TARGET_NAMES

__all__ = ["write_jet_report"]


def _response_figure(parton, truth, generated) -> str:
    bins = list(zip(PT_BINS[:-1], PT_BINS[1:], strict=True))
    fig, axes = plt.subplots(1, len(bins), figsize=(3.2 * len(bins), 2.8))
    edges = np.linspace(0.4, 1.6, 61)
    for ax, (low, high) in zip(axes, bins, strict=True):
        chosen = (parton[:, 0] >= low) & (parton[:, 0] < high)
        for jets, label, style in ((truth, "Pythia", "fill"), (generated, "IQN", "line")):
            counts, _ = np.histogram(jets[chosen, 0] / parton[chosen, 0], edges, density=True)
            if style == "fill":
                ax.stairs(counts, edges, fill=True, alpha=0.35, color="0.3", label=label)
            else:
                ax.stairs(counts, edges, color="tab:red", label=label)
        title = f"{low:g}-{high:g} GeV" if np.isfinite(high) else f"> {low:g} GeV"
        ax.set_title(f"parton pT {title} (n={int(chosen.sum())})", fontsize=8)
        ax.set_xlabel("pT' / pT", fontsize=8)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return figure_base64(fig)


def _marginals_figure(truth, generated) -> str:
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
    for i, (ax, name) in enumerate(zip(axes, JET_NAMES, strict=True)):
        values = np.concatenate([truth[:, i], generated[:, i]])
        edges = np.linspace(*np.quantile(values, [0.001, 0.999]), 61)
        ax.hist(truth[:, i], edges, density=True, alpha=0.35, color="0.3", label="Pythia")
        ax.hist(generated[:, i], edges, density=True, histtype="step", color="tab:red", label="IQN")
        ax.set_xlabel(name + (" [GeV]" if name in ("pt", "m") else ""), fontsize=8)
        if name == "pt":
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return figure_base64(fig)


def _pit_figure(pit) -> str:
    fig, axes = plt.subplots(1, pit.shape[1], figsize=(13, 2.6))
    for i, ax in enumerate(axes):
        ax.hist(pit[:, i], np.linspace(0, 1, 41), density=True, color="tab:blue", alpha=0.6)
        ax.axhline(1, color="0.2", lw=0.8)
        ax.set_ylim(0, 2)
        ax.set_xlabel(f"PIT of {TARGET_NAMES[i]}", fontsize=8)
    fig.tight_layout()
    return figure_base64(fig)


def _rows(metrics: dict) -> list[tuple[str, str]]:
    cls = metrics["classifier"]
    rows = [
        ("held-out pairs", str(metrics["n_reference"])),
        ("classifier AUC (input, output)", f"{cls['auc']:.4f} &plusmn; {cls['auc_err']:.4f}"),
    ]
    if "floor_classifier" in metrics:
        floor = metrics["floor_classifier"]
        rows.append(
            (
                "AUC floor (two Pythia samples)",
                f"{floor['auc']:.4f} &plusmn; {floor['auc_err']:.4f}",
            )
        )
    rows += [
        ("PIT KS: smallest p-value", f"{metrics['pit_ks_min_pvalue']:.3g}"),
        ("PIT KS: largest statistic", f"{metrics['pit_ks_max_statistic']:.4f}"),
        ("monotonicity violations", f"{metrics['monotonicity_violation_fraction']:.2e}"),
    ]
    floor_distances = metrics.get("floor_distances", {})
    for key, value in metrics["distances"].items():
        floor = floor_distances.get(key)
        rows.append((key, f"{value:.4g}" + (f" (floor {floor:.4g})" if floor is not None else "")))
    return rows


def write_jet_report(path, metrics: dict, arrays: dict) -> Path:
    parton, truth, generated = arrays["parton"], arrays["truth"], arrays["generated"]
    body = (
        f"<p>run: {html.escape(str(metrics.get('run', '')))}<br>"
        f"reference: {html.escape(str(metrics.get('reference', '')))}</p>"
        f"{table_html(_rows(metrics))}"
        f"<h2>pT response per parton-jet pT bin</h2>"
        f"{image_tag(_response_figure(parton, truth, generated))}"
        f"<h2>output marginals</h2>{image_tag(_marginals_figure(truth, generated))}"
        f"<h2>closure: PIT of held-out truth (uniform if the quantiles are right)</h2>"
        f"{image_tag(_pit_figure(arrays['pit']))}"
        f"<h2>all numbers</h2><pre>{html.escape(json.dumps(metrics, indent=1))}</pre>"
    )
    return write_page(path, "physgen jet emulation evaluation", body)
