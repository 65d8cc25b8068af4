"""Flow shower surrogates on a Geant4 sample: quality, generation speed, training time.

Trains each model on the training file, generates one shower per incident energy of the
reference file, evaluates against it (official classifier unless --quick), times generation
at batch 1, 100 and 10000 (50, 200 and 10000 showers: the reference energies repeated
cyclically where the file holds fewer, so batch 10000 is one full batch of 10000), and times
Geant4 in the same run (CPU seconds per shower, one process, the default physics list, which
each row records) on --geant4-showers energies at the midpoint quantiles (i + 0.5) / n of the
reference energies: their mean, and so the mean cost, is that of the reference spectrum (a
random subset of 40 log-uniform 1-100 GeV energies has a mean off by 18% rms).

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
from physgen.calo.models.base import ShowerModel, generate_showers  # noqa: E402


def geant4_energies_mev(reference_energies: np.ndarray, n: int) -> np.ndarray:
    """n energies at the midpoint quantiles (i + 0.5) / n of the reference energies: a sample
    whose mean energy (and so mean Geant4 cost) is the reference spectrum's."""
    quantiles = (np.arange(n) + 0.5) / n
    return np.quantile(np.asarray(reference_energies, dtype=np.float64), quantiles)


def geant4_timing(energies_mev: np.ndarray, seed: int = 99) -> dict:
    """CPU ms per shower of Geant4 on these energies (one process, after a warm-up event)
    with the default physics list, and what was timed."""
    from physgen.calo.simulate import SimulationConfig, _simulate_chunk

    config = SimulationConfig(seed=seed)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(_simulate_chunk, (config, None, 0, energies_mev[:1]))  # warm-up
        _, _, cpu_s, _, _, physics = pool.apply(_simulate_chunk, (config, None, 1, energies_mev))
        physics_list, g4_version = physics
    return {
        "geant4_ms_per_shower": 1e3 * cpu_s / len(energies_mev),
        "geant4_physics_list": physics_list,
        "geant4_version": g4_version,
        "geant4_cut_mm": config.cut_mm,
        "geant4_n_events": len(energies_mev),
        "geant4_energy_choice": "midpoint quantiles (i + 0.5) / n of the reference energies",
        "geant4_mean_energy_mev": float(np.mean(energies_mev)),
        "geant4_energies_mev": [round(float(e), 3) for e in energies_mev],
    }


def timed_showers(batch: int) -> int:
    """Showers generated in the timing at this batch size: at least one full batch."""
    return max(batch, 200 if batch > 1 else 50)


def generation_ms(model: ShowerModel, energies: np.ndarray, batch: int) -> float:
    n = timed_showers(batch)
    pool = np.resize(energies, n)  # the energies repeated cyclically up to n
    generate_showers(model, pool[:batch], batch, seed=0)  # warm-up
    start = time.perf_counter()
    generate_showers(model, pool, batch, seed=1)
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
    g4 = geant4_timing(geant4_energies_mev(ref_energies, args.geant4_showers))
    g4_ms = g4["geant4_ms_per_shower"]
    rows = []
    for name in args.models.split(","):
        run_dir = args.work / args.tag / name
        model, train_s = trained_model(name, args.train, run_dir)
        generated = run_dir / "generated.h5"
        showers = generate_showers(model, ref_energies, 1000, seed=0)
        write_showers(generated, ref_energies, showers)
        metrics = evaluate(
            generated,
            args.reference,
            run_dir / "evaluation",
            EvaluationConfig(metrics=tuple(args.metrics.split(",")), quick=args.quick),
        )
        timing = {b: generation_ms(model, ref_energies, b) for b in (1, 100, 10000)}
        # Geant4 on energies at the reference's quantiles vs the model on the reference
        # energies: both are means over the reference spectrum
        rows.append(
            {
                "model": name,
                "auc_low": metrics["auc_low"],
                "auc_low_err": metrics["auc_low_err"],
                "auc_high": metrics["auc_high"],
                "fpd": metrics["fpd"],
                "separation_mean_official": metrics["separation_mean_official"],
                "ms_per_shower_b1": timing[1],
                "ms_per_shower_b100": timing[100],
                "ms_per_shower_b10000": timing[10000],
                "timed_showers": {str(b): timed_showers(b) for b in timing},
                "speedup_vs_geant4": g4_ms / timing[10000],
                **g4,
                "reference_mean_energy_mev": float(np.mean(ref_energies)),
                "train_s": train_s,
                "n_train": len(read_showers(args.train)[0]),
                "classifier": "quick" if args.quick else "official",
                "tag": args.tag,
                "train_file": str(args.train),
                "reference_file": str(args.reference),
                "machine": machine(),
            }
        )
    hidden = ("train_file", "reference_file", "machine", "timed_showers", "geant4_energies_mev")
    print_table(rows, [k for k in rows[0] if k not in hidden])
    write_result("flows", _merged_rows(rows))


def _merged_rows(new_rows: list[dict]) -> list[dict]:
    """flows.json's rows with those of the same model, data tag and classifier replaced."""
    path = RESULTS / "flows.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return replace_rows(rows, new_rows, ("model", "tag", "classifier"))


if __name__ == "__main__":
    main()
