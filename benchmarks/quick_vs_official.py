"""The quick classifier against the official recipe on the same pairs of files: does the cheap
estimate agree with the official one, and does it catch what it should?

Cases (each a generated file against a reference file, both in the CaloChallenge format):
a trained model's showers against held-out Geant4, Geant4 against Geant4 (the floor), and
Geant4 showers with every voxel scaled by 1.10 or by 1e30 (failures any judge must catch).
Every case runs the quick classifier ``--repeats`` times (seeds 0..K-1: mean and spread beside
the Hanley-McNeil error) and, where asked, the official recipe once.

    python benchmarks/quick_vs_official.py [--standard-cases]
        [--case NAME GENERATED REFERENCE quick|official|quick+official ...] [--repeats 3]
        [--metrics cls-low,cls-high] [--result quick_vs_official]

``--standard-cases`` writes and runs the failure cases from the shared Geant4 files
(../shared/calochallenge/g4-ds2-e-1-100GeV): the first 1000 showers of seed201 as the
reference against the first 1000 of seed202 as they are (the floor), with every voxel x 1.10,
and x 1e30; and seed201 against seed202 whole (2500 each, the floor of the model rows).
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table, replace_rows, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402

COLUMNS = ["case", "classifier", "input", "n_each", "auc", "auc_err", "auc_mean", "auc_spread"]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def run_case(name, generated, reference, quick, repeats, metrics, out) -> list[dict]:
    config = EvaluationConfig(
        metrics=metrics, quick=quick, repeats=repeats if quick else 1, report=False
    )
    started = time.perf_counter()
    result = evaluate(generated, reference, out, config, progress=False, log=lambda m: None)
    rows = []
    for suffix, value in result["classifiers"].items():
        rows.append(
            {
                "case": name,
                "classifier": "quick" if quick else "official",
                "input": suffix,
                "n_each": result["n_reference"],
                "auc": value["auc"],
                "auc_err": value["auc_err"],
                "auc_mean": value["auc_mean"],
                "auc_spread": value["auc_spread"],
                "repeats": value["repeats"],
                "epochs_run": value["epochs_run"],
                "best_epoch": value["best_epoch"],
                "stayed_at_chance": value["stayed_at_chance"],
                "generated": str(generated),
                "generated_sha256": sha256(generated),
                "reference": str(reference),
                "reference_sha256": sha256(reference),
                "wall_s": time.perf_counter() - started,
            }
        )
    return rows


SHARED_FILES = (
    Path(__file__).resolve().parents[2] / "shared" / "calochallenge" / "g4-ds2-e-1-100GeV"
)


def standard_cases(folder: Path) -> list[list[str]]:
    import h5py
    import numpy as np

    from physgen.calo.io import write_showers

    folder.mkdir(parents=True, exist_ok=True)

    def first(name, n, scale=1.0):
        with h5py.File(SHARED_FILES / name) as h5:
            energies = h5["incident_energies"][:n].ravel()
            return energies, (h5["showers"][:n] * np.float32(scale)).astype(np.float32)

    reference = folder / "seed201-first1000.h5"
    write_showers(reference, *first("g4_ds2_e_1-100GeV_seed201.h5", 1000))
    cases = []
    for name, scale, classifiers in (
        ("geant4-floor-1000", 1.0, "quick"),
        ("scaled-1.10-1000", 1.10, "quick+official"),
        ("scaled-1e30-1000", 1e30, "quick"),
    ):
        path = folder / f"seed202-first1000-x{scale:g}.h5"
        write_showers(path, *first("g4_ds2_e_1-100GeV_seed202.h5", 1000, scale))
        cases.append([name, str(path), str(reference), classifiers])
    whole = [str(SHARED_FILES / f"g4_ds2_e_1-100GeV_seed20{i}.h5") for i in (1, 2)]
    cases.append(["geant4-floor-shared-2500", *whole, "quick"])
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--case",
        nargs=4,
        action="append",
        default=[],
        metavar=("NAME", "GENERATED", "REFERENCE", "CLASSIFIERS"),
        help="CLASSIFIERS: quick, official or quick+official",
    )
    parser.add_argument("--standard-cases", action="store_true")
    parser.add_argument(
        "--only", choices=("quick", "official"), help="run only this classifier of every case"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics", default="cls-low,cls-high")
    parser.add_argument("--result", default="quick_vs_official")
    parser.add_argument("--out", type=Path, default=Path("/tmp/physgen-bench/quick-vs-official"))
    args = parser.parse_args()
    command = "python benchmarks/quick_vs_official.py " + shlex.join(sys.argv[1:])
    path = RESULTS / f"{args.result}.json"
    rows = []
    if path.exists():
        import json

        rows = json.loads(path.read_text())["rows"]
    metrics = tuple(args.metrics.split(","))
    cases = args.case + (standard_cases(args.out / "cases") if args.standard_cases else [])
    for name, generated, reference, classifiers in cases:
        for kind in classifiers.split("+"):
            if args.only and kind != args.only:
                continue
            new = run_case(
                name,
                Path(generated),
                Path(reference),
                kind == "quick",
                args.repeats,
                metrics,
                args.out / f"{name}-{kind}",
            )
            for row in new:
                row["command"] = command
            rows = replace_rows(rows, new, ("case", "classifier", "input"))
            write_result(args.result, {"machine": machine(), "rows": rows})
            print_table(new, COLUMNS)


if __name__ == "__main__":
    main()
