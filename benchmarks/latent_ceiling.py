"""The latent flow's decoder ceiling: what a perfect flow in its latent space would score.

The training showers are encoded (Gaussianisation + principal components, as `latent-flow`
fits them) and decoded straight back with the model's residual noise, then compared with the
reference file. The flow is left out: its samples can only be as good as these. One row per
setting MARGINAL_BINSxCOMPONENTS (the rest from benchmarks/configs/latent-flow.yaml), with the
number of hits and the layer-10 radial width (mm) per range of incident energy beside Geant4's.

    python benchmarks/latent_ceiling.py [--train T.h5 --reference R.h5] [--tag NAME]
        [--settings 1x16,6x16,6x64] [--official]

Default files: the `ds2-e-1-100GeV` preset. Rows go into benchmarks/results/latent_ceiling.json
(a new row replaces the one of the same setting, --tag and classifier).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _calo_runs import CONFIGS, preset_files  # noqa: E402
from _common import RESULTS, machine, print_table, replace_rows, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402
from physgen.calo.features import compute_features  # noqa: E402
from physgen.calo.io import open_shower_file, read_showers, write_showers  # noqa: E402
from physgen.calo.models import SHOWER_MODELS  # noqa: E402
from physgen.calo.models.latent import LatentFlowConfig  # noqa: E402
from physgen.core.config import load_config  # noqa: E402

ENERGY_EDGES_MEV = (1e3, 3e3, 3e4, 1.01e5)


def hits_and_width(geometry, energies, showers) -> dict:
    """Voxels above zero and the layer-10 radial width (mm, calo.features) per range of
    incident energy."""
    width = compute_features(geometry, energies, showers).width_r[:, 10]
    out = {}
    for low, high in zip(ENERGY_EDGES_MEV[:-1], ENERGY_EDGES_MEV[1:], strict=True):
        rows = (energies >= low) & (energies < high)
        key = f"{low / 1e3:g}-{high / 1e3:.0f}GeV"
        out[f"hits_{key}"] = float((showers[rows] > 0).sum(1).mean())
        out[f"width_r10_mm_{key}"] = float(width[rows].mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--settings", default="1x16,6x16,6x64")
    parser.add_argument("--official", action="store_true", help="official classifier")
    parser.add_argument("--tag", default="ds2-e-1-100GeV")
    parser.add_argument("--work", type=Path, default=Path("/tmp/physgen-bench/latent-ceiling"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.train, args.reference = preset_files(args.train, args.reference)
    geometry = open_shower_file(args.train).geometry
    energies, showers = read_showers(args.train)
    base = load_config(LatentFlowConfig, CONFIGS / "latent-flow.yaml", {"geometry": geometry.name})
    common = {"tag": args.tag, "train_file": str(args.train), "reference_file": str(args.reference)}
    classifier = "official" if args.official else "quick"
    geant4 = hits_and_width(geometry, energies, showers)
    rows = [{"setting": "geant4", **geant4, "classifier": classifier, **common}]
    for setting in args.settings.split(","):
        bins, components = map(int, setting.split("x"))
        config = replace(base, marginal_bins=bins, latent_components=components)
        decoded = SHOWER_MODELS.build(config).round_trip(energies, showers)
        out = args.work / args.tag / setting
        write_showers(out / "decoded.h5", energies, decoded)
        metrics = evaluate(
            out / "decoded.h5",
            args.reference,
            out / "evaluation",
            EvaluationConfig(metrics=("hist", "cls-low"), quick=not args.official, report=False),
        )
        rows.append(
            {
                "setting": setting,
                "marginal_bins": bins,
                "latent_components": components,
                "auc_low": metrics["auc_low"],
                "auc_low_err": metrics["auc_low_err"],
                "separation_mean_official": metrics["separation_mean_official"],
                **hits_and_width(geometry, energies, decoded),
                "classifier": classifier,
                **common,
                "machine": machine(),
            }
        )
    print_table(rows, [k for k in rows[-1] if k not in ("train_file", "reference_file", "machine")])
    path = RESULTS / "latent_ceiling.json"
    old = json.loads(path.read_text()) if path.exists() else []
    write_result("latent_ceiling", replace_rows(old, rows, ("setting", "tag", "classifier")))


if __name__ == "__main__":
    main()
