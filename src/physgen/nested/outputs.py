"""What a nested-sampling run writes: the chains in PolyChord's format (which anesthetic
reads: ``anesthetic.read_chains("RUN/chains/NAME")``), posterior samples with weights, and an
HTML report (evidence and acceptance against iteration, a corner plot of the posterior)."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from physgen.core.atomic import atomic_path, write_text_atomic
from physgen.core.html_report import figure_base64, image_tag, table_html, write_page

__all__ = ["write_chains", "write_report", "posterior_moments"]


def write_chains(folder, root: str, names, theta, log_l, log_l_birth, log_weights) -> Path:
    """``root_dead-birth.txt`` (columns: parameters, log L, log L at birth; PolyChord's dead
    points file, the final live points appended by increasing L), ``root.paramnames``, and
    ``root_equal_weights.txt``-style weighted samples ``root_weighted.txt`` (weight, params)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    birth = np.where(np.isfinite(log_l_birth), log_l_birth, -1e300)  # PolyChord's "-inf"
    with atomic_path(folder / f"{root}_dead-birth.txt") as tmp:
        np.savetxt(tmp, np.column_stack([theta, log_l, birth]), fmt="%.17e")
    with atomic_path(folder / f"{root}_weighted.txt") as tmp:
        np.savetxt(tmp, np.column_stack([np.exp(log_weights), theta]), fmt="%.17e")
    write_text_atomic(folder / f"{root}.paramnames", "".join(f"{name}\t{name}\n" for name in names))
    return folder / f"{root}_dead-birth.txt"


def _trace_figure(trace: np.ndarray, log_z_exact) -> str:
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    if len(trace):
        axes[0].plot(trace[:, 0], trace[:, 2], color="tab:blue", label="log Z so far")
        axes[1].plot(trace[:, 0], trace[:, 3], color="tab:green")
    if log_z_exact is not None:
        axes[0].axhline(log_z_exact, color="k", linestyle="--", label="exact")
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel("log Z")
    axes[0].legend(fontsize=8)
    axes[1].set_xlabel("iteration")
    axes[1].set_ylabel("acceptance (recent window)")
    axes[1].set_yscale("log")
    fig.tight_layout()
    return figure_base64(fig)


def _corner_figure(theta, weights, names, max_dim: int = 6) -> str:
    """Weighted 2-D histograms and 1-D marginals of the first ``max_dim`` parameters."""
    d = min(theta.shape[1], max_dim)
    fig, axes = plt.subplots(d, d, figsize=(1.9 * d + 1, 1.9 * d + 1), squeeze=False)
    ranges = [
        (np.quantile(theta[:, i], 0.0005), np.quantile(theta[:, i], 0.9995)) for i in range(d)
    ]
    for row in range(d):
        for col in range(d):
            ax = axes[row, col]
            if col > row:
                ax.axis("off")
                continue
            if row == col:
                ax.hist(theta[:, col], 40, range=ranges[col], weights=weights, color="0.3")
                ax.set_yticks([])
            else:
                ax.hist2d(
                    theta[:, col],
                    theta[:, row],
                    40,
                    range=[ranges[col], ranges[row]],
                    weights=weights,
                    cmap="Greys",
                )
            if row == d - 1:
                ax.set_xlabel(names[col], fontsize=8)
            if col == 0 and row > 0:
                ax.set_ylabel(names[row], fontsize=8)
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    return figure_base64(fig)


def write_report(path, title: str, result: dict, trace, theta, log_weights, names) -> Path:
    weights = np.exp(log_weights)
    ess = float(weights.sum() ** 2 / np.sum(weights**2))
    exact = result.get("log_z_exact")
    rows = [
        ("log Z", f"{result['log_z']:.4f} &plusmn; {result['log_z_err']:.4f}"),
        ("exact log Z", "unknown" if exact is None else f"{exact:.4f}"),
        (
            "pull (log Z - exact) / error",
            "" if exact is None else f"{(result['log_z'] - exact) / result['log_z_err']:.2f}",
        ),
        ("information H (nats)", f"{result['information']:.3f}"),
        ("iterations", str(result["iterations"])),
        ("likelihood calls", str(result["likelihood_calls"])),
        ("acceptance", f"{result['acceptance']:.4f}"),
        ("proposal retrainings", str(result["retrainings"])),
        ("posterior effective sample size", f"{ess:.0f}"),
        ("wall time", f"{result['wall_s']:.1f} s"),
        ("converged", str(result["converged"])),
    ]
    body = (
        table_html(rows)
        + "<h2>Evidence and acceptance</h2>"
        + image_tag(_trace_figure(np.asarray(trace), exact))
        + "<h2>Posterior</h2>"
        + image_tag(_corner_figure(theta, weights, list(names)))
    )
    return write_page(path, title, body)


def posterior_moments(theta, log_weights) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and covariance of the posterior samples."""
    weights = np.exp(log_weights - np.max(log_weights))
    weights /= weights.sum()
    mean = weights @ theta
    centred = theta - mean
    return mean, (centred * weights[:, None]).T @ centred
