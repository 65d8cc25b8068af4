"""The report of an integrate run: the target and the flow on the plane of the first two
coordinates (for a Dalitz target, the Dalitz plot), the target shown by reweighting the flow's
draws (exact for any dimension) and, in 2-D, by its density on a grid; the log-weight
distribution."""

from __future__ import annotations

import numpy as np
import torch

from physgen.core.html_report import figure_base64, html_table, image_tag, write_page

__all__ = ["write_report"]


def write_report(model, target, result: dict, path, points, log_w):
    """``points`` (n, d): flow draws; ``log_w`` (n,): their log-weights."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = np.isfinite(log_w)
    weights = np.exp(log_w[finite] - log_w[finite].max())
    box = [[target.lower[0], target.upper[0]], [target.lower[1], target.upper[1]]]

    figure, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    if target.dim == 2:
        grid = [np.linspace(lo, hi, 200) for lo, hi in box]
        mesh = np.stack(np.meshgrid(*grid, indexing="ij"), -1).reshape(-1, 2)
        density = target.log_density(torch.as_tensor(mesh)).numpy().reshape(200, 200)
        axes[0].pcolormesh(grid[0], grid[1], np.exp(density - density.max()).T, shading="auto")
        axes[0].set_title(f"target {target.name} (density)")
    else:
        axes[0].hist2d(*points[finite][:, :2].T, bins=100, range=box, weights=weights)
        axes[0].set_title(f"target {target.name} (reweighted flow draws)")
    axes[1].hist2d(*points[:, :2].T, bins=100, range=box)
    axes[1].set_title(f"flow ({model.config.method})")
    for axis in axes[:2]:
        axis.set(xlabel="x1", ylabel="x2")
    shown = np.log(weights / weights.mean())  # log (w / mean w)
    axes[2].hist(shown / np.log(10), bins=100, log=True)
    axes[2].set(xlabel="log10 (w / mean w)", ylabel="draws", title="weights")
    figure.tight_layout()
    image = image_tag(figure_base64(figure))
    figure.savefig(str(path).replace(".html", ".png"), dpi=80)
    plt.close(figure)
    rows = [[key, f"{value:.6g}" if isinstance(value, float) else str(value)]
            for key, value in result.items()]  # fmt: skip
    table = html_table(["quantity", "value"], rows)
    return write_page(path, f"physgen integrate: {target.name}", table + image)
