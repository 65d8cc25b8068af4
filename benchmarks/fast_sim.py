"""A surrogate inside a Geant4 run against the full Geant4 simulation of the same events.

`physgen calo simulate` runs the Par04 application three times on --n electrons, log-uniform
in 1-100 GeV: full Geant4 with seed S, the same events (energies and seeds) with
`--fast-sim RUN` (every e-/e+/photon entering the calorimeter handed to the surrogate), and
full Geant4 with seed S + 1 (the statistical floor). The surrogate alone (`generate` on the
same energies) is the fourth sample. Rows: CPU seconds per event of each, the speed-up of the
fast simulation over the full one on the same events, and the quick evaluation (classifier
AUC, mean official separation power, FPD/KPD) of each sample against the full run S.

    python benchmarks/fast_sim.py [--run RUN] [--n 400] [--jobs 1]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from _calo_runs import trained_model
from _common import machine, print_table, write_result
from physgen.calo.evaluate import EvaluationConfig, evaluate
from physgen.calo.io import read_showers, write_showers
from physgen.calo.models import SHOWER_MODELS
from physgen.calo.models.base import generate_showers
from physgen.calo.simulate import SimulationConfig, simulate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "calochallenge" / "g4-ds2-e-1-100GeV"


def _simulate(config: SimulationConfig, out: Path, jobs: int) -> dict:
    if out.exists():
        out.unlink()
    result = simulate(config, out, jobs=jobs, progress=True, log=print)
    return {"cpu_s": result["cpu_s"], "wall_s": result["wall_s"], **result.get("fast_sim", {})}


def _quick(generated: Path, reference: Path, out: Path) -> dict:
    metrics = evaluate(
        generated, reference, out, EvaluationConfig(quick=True, report=False), progress=False
    )
    return {
        "auc_low": metrics["auc_low"],
        "auc_high": metrics["auc_high"],
        "separation_mean_official": metrics["separation_mean_official"],
        "fpd_x1e3": metrics["fpd"],
        "fpd_err": metrics["fpd_err"],
        "kpd_x1e3": metrics["kpd"],
        "kpd_err": metrics["kpd_err"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="trained run (default: latent flow, seed201)")
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/runs"))
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    run = args.run or args.runs / "latent-flow-shared201"
    if args.run is None:
        trained_model("latent-flow", SHARED / "g4_ds2_e_1-100GeV_seed201.h5", run)
    work = args.runs / "fast_sim"
    work.mkdir(parents=True, exist_ok=True)
    base = SimulationConfig(geometry="ds2", energy_gev="1:100", n_events=args.n, seed=args.seed)
    files = {
        "full": work / "full.h5",
        "fast-sim": work / "fast.h5",
        "full-floor": work / "full_floor.h5",
    }
    timing = {
        "full": _simulate(base, files["full"], args.jobs),
        "fast-sim": _simulate(replace(base, fast_sim=str(run)), files["fast-sim"], args.jobs),
        "full-floor": _simulate(replace(base, seed=args.seed + 1), files["full-floor"], args.jobs),
    }
    energies, _ = read_showers(files["full"])
    model = SHOWER_MODELS.load(run / "model.pt")
    started = time.process_time()
    alone = generate_showers(model, energies, batch_size=1, seed=args.seed)
    timing["surrogate-alone"] = {"cpu_s": time.process_time() - started}
    files["surrogate-alone"] = work / "alone.h5"
    write_showers(files["surrogate-alone"], energies, alone)
    rows = []
    for name, path in files.items():
        row = {
            "sample": name,
            "events": args.n,
            "seed": args.seed + 1 if name == "full-floor" else args.seed,
            "energy_gev": "1:100 log-uniform",
            "particle": "e-",
            "model_run": str(run) if name in ("fast-sim", "surrogate-alone") else None,
            "cpu_s_per_event": timing[name]["cpu_s"] / args.n,
            "mean_etot_over_einc": float(
                np.mean(read_showers(path)[1].sum(1) / read_showers(path)[0])
            ),
        }
        if name != "full":
            row.update(_quick(path, files["full"], work / f"eval_{name}"))
        for key in ("handed_over", "surrogate_s", "max_angle_rad"):
            if key in timing[name]:
                row[key] = timing[name][key]
        rows.append(row)
    full_cpu = rows[0]["cpu_s_per_event"]
    for row in rows:
        row["speedup_over_full"] = full_cpu / row["cpu_s_per_event"]
    print_table(
        rows,
        ["sample", "cpu_s_per_event", "speedup_over_full", "auc_low", "auc_high",
         "separation_mean_official", "mean_etot_over_einc"],
    )  # fmt: skip
    command = f"python benchmarks/fast_sim.py --n {args.n} --seed {args.seed} --jobs {args.jobs}"
    path = write_result("fast_sim", {"machine": machine(), "command": command, "rows": rows})
    print(f"wrote {path}")
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
