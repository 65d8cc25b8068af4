"""Diffusion samplers on a Geant4 sample: quality vs generation time ("Choose your diffusion",
arXiv:2401.13162, plus time), and the tree-based flow-matching model.

Trains the `diffusion` model (and `trees`) on the training file once, then for each sampler
and number of steps generates one shower per reference incident energy and measures the
low-level classifier AUC, the mean separation power of the high-level histograms, FPD, and the
generation time per shower (batch 1000, one thread). The grid uses the QUICK classifier
(2 x 256, at least 600 steps) to stay within CPU hours; the Pareto-front points are
re-evaluated with the official recipe (`--official-front`). Rows are kept per training
file, so grids on different data sets live side by side in the JSON. Writes
benchmarks/results/samplers.json: a list of objects with model, sampler, steps, nfe,
auc_low, separation_mean_official, fpd, ms_per_shower.

    python benchmarks/sampler_study.py [--train T.h5 --reference R.h5]
        [--samplers euler,heun,edm,dpmpp2m,lms,unipc,restart,ddpm] [--steps 8,16,32,64]
        [--official-front] [--no-trees | --no-diffusion] [--diffusion-config diffusion]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _calo_runs import preset_files, trained_model  # noqa: E402
from _common import machine, print_table, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402
from physgen.calo.io import read_showers, write_showers  # noqa: E402
from physgen.calo.models.base import generate_showers  # noqa: E402
from physgen.models.samplers import nfe  # noqa: E402

METRICS = ("hist", "cls-low", "fpd")


def measure(model, sampler, steps, energies, reference, out_dir, official) -> dict:
    model.choose_sampler(sampler, steps)
    generate_showers(model, energies[:100], 100, seed=0)  # warm-up
    started = time.perf_counter()
    showers = generate_showers(model, energies, 1000, seed=1)
    ms = 1e3 * (time.perf_counter() - started) / len(energies)
    generated = out_dir / f"{sampler}-{steps}.h5"
    write_showers(generated, energies, showers)
    metrics = evaluate(
        generated,
        reference,
        out_dir / f"{sampler}-{steps}",
        EvaluationConfig(metrics=METRICS, quick=not official, report=False),
    )
    generated.unlink()
    return {
        "model": model.name,
        "sampler": sampler,
        "steps": steps,
        "nfe": nfe(sampler, steps) if model.name == "diffusion" else steps,
        "auc_low": metrics["auc_low"],
        "auc_low_err": metrics["auc_low_err"],
        "separation_mean_official": metrics["separation_mean_official"],
        "fpd": metrics["fpd"],
        "ms_per_shower": ms,
        "classifier": "official" if official else "quick",
    }


def pareto_front(rows: list[dict]) -> list[dict]:
    """Rows no other row beats in both AUC and time."""
    return [
        r
        for r in rows
        if not any(
            o["auc_low"] <= r["auc_low"]
            and o["ms_per_shower"] <= r["ms_per_shower"]
            and (o["auc_low"], o["ms_per_shower"]) != (r["auc_low"], r["ms_per_shower"])
            for o in rows
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--samplers", default="euler,heun,edm,dpmpp2m,lms,unipc,restart,ddpm")
    parser.add_argument("--steps", default="8,16,32,64")
    parser.add_argument("--official-front", action="store_true")
    parser.add_argument("--no-trees", action="store_true")
    parser.add_argument("--no-diffusion", action="store_true", help="only the trees model")
    parser.add_argument(
        "--diffusion-config", default="diffusion", help="benchmarks/configs/NAME.yaml"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/physgen-bench/samplers"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.train, args.reference = preset_files(args.train, args.reference)
    energies, _ = read_showers(args.reference)
    energies = np.asarray(energies)
    rows = []
    samplers = [] if args.no_diffusion else args.samplers.split(",")
    if samplers:
        model, diffusion_train_s = trained_model(
            args.diffusion_config, args.train, args.work / args.diffusion_config
        )
    for sampler in samplers:
        for steps in (int(s) for s in args.steps.split(",")):
            rows.append(measure(model, sampler, steps, energies, args.reference, args.work, False))
            print_table(rows[-1:], list(rows[-1]))
    front = pareto_front(rows)
    if args.official_front:
        for row in front:
            official = measure(
                model, row["sampler"], row["steps"], energies, args.reference, args.work, True
            )
            rows.append({**official, "pareto": True})
    for row in rows:
        row.setdefault("pareto", row in front)
        row["train_s"] = diffusion_train_s
    if not args.no_trees:
        trees, trees_train_s = trained_model("trees", args.train, args.work / "trees")
        for sampler in ("euler",):
            row = measure(trees, sampler, trees.steps, energies, args.reference, args.work, False)
            rows.append({**row, "train_s": trees_train_s, "pareto": False})
    print_table(rows, [k for k in rows[0] if k != "auc_low_err"])
    for row in rows:
        row.update(
            machine=machine(),
            train_file=data_label(args.train),
            reference_file=data_label(args.reference),
            config=args.diffusion_config if row["model"] == "diffusion" else row["model"],
        )
    write_result("samplers", merged_with_earlier(rows))


def data_label(path: Path) -> str:
    """The file's folder and name (preset files are all called train.h5 / reference.h5)."""
    return f"{path.parent.name}/{path.name}"


def merged_with_earlier(rows: list[dict]) -> list[dict]:
    """Earlier results of other (training file, model, sampler, steps, classifier) cells are
    kept, so the grid can be measured in several runs; the Pareto flags are recomputed over the
    whole grid of each training file (quick-classifier rows of the diffusion model)."""
    from _common import RESULTS

    key = ("train_file", "model", "sampler", "steps", "classifier")
    path = RESULTS / "samplers.json"
    earlier = json.loads(path.read_text()) if path.exists() else []
    new_keys = {tuple(r[k] for k in key) for r in rows}
    merged = [r for r in earlier if tuple(r[k] for k in key) not in new_keys] + rows
    for train_file in {r["train_file"] for r in merged}:
        quick = [
            r
            for r in merged
            if r["train_file"] == train_file
            and r["model"] == "diffusion"
            and r["classifier"].startswith("quick")
        ]
        front = pareto_front(quick)
        for row in quick:
            row["pareto"] = row in front
    return sorted(merged, key=lambda r: tuple(str(r[k]).zfill(4) for k in key))


if __name__ == "__main__":
    main()
