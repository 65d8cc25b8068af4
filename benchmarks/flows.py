"""Flow shower surrogates on a Geant4 sample: quality, generation speed, training time.

Trains each model on the training file, generates one shower per incident energy of the
reference file, evaluates against it (official classifier unless --quick), times generation
at batch 1, 100 and 10000, and times Geant4 on the same energies in the same run (a random
subset of them, CPU seconds per shower, one process) for the speed-up.

    python benchmarks/flows.py [--train T.h5 --reference R.h5] [--quick] [--tag NAME]
        [--models caloflow,caloflow-distilled,coupling,latent-flow] [--geant4-showers 40]
        [--metrics hist,cls-low,cls-high,fpd]

Default files: the `ds2-e-1-100GeV` preset. Rows go into benchmarks/results/flows.json (a
list; a new row replaces the one of the same model, --tag and classifier).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _calo_runs import preset_files, trained_model  # noqa: E402
from _common import RESULTS, machine, print_table, replace_rows, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402
from physgen.calo.io import read_showers, write_showers  # noqa: E402
from physgen.calo.shower_models import ShowerModel  # noqa: E402


def geant4_ms_per_shower(energies_mev: np.ndarray, seed: int = 99) -> float:
    from physgen.calo.simulate import SimulationConfig, _init_worker, _simulate_chunk

    with multiprocessing.get_context("spawn").Pool(
        1, _init_worker, (SimulationConfig(seed=seed),)
    ) as pool:
        pool.apply(_simulate_chunk, ((0, energies_mev[:1]),))  # warm-up
        _, _, cpu_s, _ = pool.apply(_simulate_chunk, ((1, energies_mev),))
    return 1e3 * cpu_s / len(energies_mev)


def generation_ms(model: ShowerModel, energies: np.ndarray, batch: int) -> float:
    n = min(len(energies), max(batch, 200 if batch > 1 else 50))
    pool = np.resize(energies, n)
    model.sample(pool[:batch], batch_size=batch, seed=0)  # warm-up
    start = time.perf_counter()
    model.sample(pool, batch_size=batch, seed=1)
    return 1e3 * (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path)
    parser.add_argument("--reference", type=Path)
    parser.add_argument("--models", default="caloflow,caloflow-distilled,coupling")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--metrics",
        default="hist,cls-low,cls-high,fpd",
        help="evaluation metrics (the low-level-normed classifier and KPD are left out by "
        "default: they cost as much again and are not in the table)",
    )
    parser.add_argument("--geant4-showers", type=int, default=40)
    parser.add_argument("--tag", default="ds2-e-1-100GeV")
    parser.add_argument("--work", type=Path, default=Path("/tmp/physgen-bench/flows"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.train, args.reference = preset_files(args.train, args.reference)
    ref_energies, _ = read_showers(args.reference)
    rng = np.random.default_rng(0)
    g4_subset = rng.choice(ref_energies, min(args.geant4_showers, len(ref_energies)), replace=False)
    g4_ms = geant4_ms_per_shower(g4_subset.astype(np.float64))
    rows = []
    for name in args.models.split(","):
        run_dir = args.work / args.tag / name
        model, train_s = trained_model(name, args.train, run_dir)
        generated = run_dir / "generated.h5"
        showers = model.sample(ref_energies, batch_size=1000, seed=0)
        write_showers(generated, ref_energies, showers)
        metrics = evaluate(
            generated,
            args.reference,
            run_dir / "evaluation",
            EvaluationConfig(metrics=tuple(args.metrics.split(",")), quick=args.quick),
        )
        timing = {b: generation_ms(model, ref_energies, b) for b in (1, 100, 10000)}
        # Geant4 on the benchmark subset vs the model on all reference energies: both are
        # means over the same log-uniform spectrum
        rows.append(
            {
                "model": name,
                "auc_low": metrics["auc_low"],
                "auc_low_err": metrics["auc_low_err"],
                "auc_high": metrics["auc_high"],
                "fpd": metrics["fpd"],
                "separation_mean": metrics["separation_mean"],
                "ms_per_shower_b1": timing[1],
                "ms_per_shower_b100": timing[100],
                "ms_per_shower_b10000": timing[10000],
                "geant4_ms_per_shower": g4_ms,
                "speedup_vs_geant4": g4_ms / timing[10000],
                "train_s": train_s,
                "n_train": len(read_showers(args.train)[0]),
                "classifier": "quick" if args.quick else "official",
                "tag": args.tag,
                "train_file": str(args.train),
                "reference_file": str(args.reference),
                "machine": machine(),
            }
        )
    print_table(rows, [k for k in rows[0] if k not in ("train_file", "reference_file", "machine")])
    write_result("flows", _merged_rows(rows))


def _merged_rows(new_rows: list[dict]) -> list[dict]:
    """flows.json's rows with those of the same model, data tag and classifier replaced."""
    path = RESULTS / "flows.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return replace_rows(rows, new_rows, ("model", "tag", "classifier"))


if __name__ == "__main__":
    main()
