"""Parity of physgen's separation powers with the official CaloChallenge histogram set.

Computes the 227 official dataset-2 separation powers (E_tot/E_inc, E_layer, EC_eta, EC_phi,
width_eta, width_phi per layer, voxel spectrum) three ways and compares them:

- physgen: ``physgen calo evaluate`` with metrics ("hist",);
- formulas: ``_calochallenge_formulas``, an independent float64 implementation of the
  published definitions, on the thresholded showers (voxels < 0.5 keV / 0.033 set to 0, as
  both physgen and the official ``code/evaluate.py`` do) and on the raw showers;
- official (optional, ``--official FILE.json``, repeatable): the official script's numbers,
  parsed into physgen's names, e.g. from a run of CaloChallenge/homepage ``code/evaluate.py
  --mode hist-chi`` outside this repository (the file holds ``separation_power`` and a
  ``provenance`` block).

    python benchmarks/evaluate_parity.py [--generated G.h5 --reference R.h5]
        [--binning binning_dataset_2.xml] [--official official.json ...]
        [--formulas-mode thresholded|raw] [--use-cache] [--out NAME]

Default files: the two shared Geant4 files of the dataset-2 geometry (seed201 generated,
seed202 reference). physgen runs on copies in a temporary folder unless --use-cache, so that
a reference-feature cache beside the shared files cannot hide a change in physgen. Writes
benchmarks/results/<NAME>.json (default evaluate_parity).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _calochallenge_formulas as formulas  # noqa: E402
from _common import machine, print_table, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "calochallenge"
DEFAULT_GENERATED = SHARED / "g4-ds2-e-1-100GeV" / "g4_ds2_e_1-100GeV_seed201.h5"
DEFAULT_REFERENCE = SHARED / "g4-ds2-e-1-100GeV" / "g4_ds2_e_1-100GeV_seed202.h5"
DEFAULT_BINNING = SHARED / "binning" / "binning_dataset_2.xml"
# physgen vs formulas_thresholded (like for like: physgen thresholds first): larger differences
# are listed as disagreements
TOLERANCE = 1e-4


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def physgen_separation(generated: Path, reference: Path, use_cache: bool) -> tuple[dict, float]:
    """physgen's official-set separation powers, its mean, and the wall time of the call."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="physgen-parity-") as tmp:
        tmp = Path(tmp)
        if not use_cache:
            generated = Path(shutil.copy(generated, tmp / f"generated_{generated.name}"))
            reference = Path(shutil.copy(reference, tmp / f"reference_{reference.name}"))
        config = EvaluationConfig(metrics=("hist",), report=False)
        metrics = evaluate(
            generated, reference, tmp / "eval", config, log=lambda *a: None, progress=False
        )
    if "separation_power" not in metrics:
        raise RuntimeError(f"physgen evaluate returned no separation powers: {metrics}")
    return metrics, time.perf_counter() - started


def official_label(path: Path, taken: set[str]) -> str:
    label = path.stem if path.stem.startswith("official") else f"official_{path.stem}"
    while label in taken:
        label += "_"
    return label


def compare(a: dict, b: dict) -> dict:
    """Per-name absolute differences on the common names, and their maximum."""
    common = [name for name in a if name in b]
    diffs = {name: abs(a[name] - b[name]) for name in common}
    finite = {k: v for k, v in diffs.items() if np.isfinite(v)}
    worst = max(finite, key=finite.get) if finite else None
    largest = finite[worst] if worst else None
    return {
        "diffs": diffs,
        "max_abs_diff": largest,
        "histogram": worst if largest else None,  # None where every difference is 0
        "n_common": len(common),
        "n_non_finite": len(diffs) - len(finite),
        "only_in_first": sorted(set(a) - set(b)),
        "only_in_second": sorted(set(b) - set(a)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", type=Path, default=DEFAULT_GENERATED)
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--binning", type=Path, default=DEFAULT_BINNING)
    parser.add_argument(
        "--official",
        type=Path,
        action="append",
        default=[],
        help="parsed official output (JSON with 'separation_power'); repeatable",
    )
    parser.add_argument(
        "--formulas-mode",
        choices=("thresholded", "raw"),
        default="thresholded",
        help="which formulas variant is the 'formulas' column (both are always computed)",
    )
    parser.add_argument(
        "--use-cache", action="store_true", help="run physgen on the files in place"
    )
    parser.add_argument("--out", default="evaluate_parity", help="result name (results/NAME.json)")
    args = parser.parse_args()

    metrics, physgen_s = physgen_separation(args.generated, args.reference, args.use_cache)
    sources = {"physgen": metrics["separation_power"]}
    started = time.perf_counter()
    for mode in ("thresholded", "raw"):
        sources[f"formulas_{mode}"] = formulas.separation_powers(
            args.generated, args.reference, args.binning, threshold=mode == "thresholded"
        )
    formulas_s = time.perf_counter() - started
    sources["formulas"] = sources[f"formulas_{args.formulas_mode}"]
    officials = {}
    for path in args.official:
        label = official_label(path, set(officials))
        doc = json.loads(path.read_text())
        officials[label] = {"path": str(path), "sha256": sha256(path), **doc}
        sources[label] = doc["separation_power"]

    pairs = [
        ("physgen", "formulas"),
        ("physgen", "formulas_thresholded"),
        ("physgen", "formulas_raw"),
    ]
    pairs += [("formulas_thresholded", "formulas_raw")]
    for label in officials:
        pairs += [("physgen", label), ("formulas_thresholded", label), ("formulas_raw", label)]
    comparisons = {f"{a} vs {b}": compare(sources[a], sources[b]) for a, b in pairs}

    names = list(sources["formulas_thresholded"])
    names += [n for n in sources["physgen"] if n not in names]
    histograms = {}
    for name in names:
        entry = {src: values.get(name) for src, values in sources.items()}
        entry["abs_diff"] = {key: c["diffs"].get(name) for key, c in comparisons.items()}
        histograms[name] = entry

    disagreements = {
        name: d
        for name, d in comparisons["physgen vs formulas_thresholded"]["diffs"].items()
        if not d <= TOLERANCE
    }
    means = {
        src: float(np.mean(list(values.values())))
        for src, values in sources.items()
        if src != "formulas"
    }
    means["formulas"] = means[f"formulas_{args.formulas_mode}"]
    means["physgen_reported"] = metrics["separation_mean_official"]

    # the 10 largest differences over every comparison
    rows = [
        {
            "histogram": name,
            "comparison": key,
            "abs_diff": d,
            "a": sources[key.split(" vs ")[0]][name],
            "b": sources[key.split(" vs ")[1]][name],
        }
        for key, c in comparisons.items()
        # physgen is the subject; "physgen vs formulas" duplicates a formulas_<mode> row
        if key.startswith("physgen vs ") and key != "physgen vs formulas"
        for name, d in c["diffs"].items()
    ]
    rows.sort(key=lambda r: -r["abs_diff"] if np.isfinite(r["abs_diff"]) else -np.inf)
    print("10 largest differences of physgen from the other sources:")
    print_table(rows[:10], ["histogram", "comparison", "a", "b", "abs_diff"])
    print()
    summary = [
        {
            "comparison": key,
            "n": c["n_common"],
            "max_abs_diff": c["max_abs_diff"],
            "histogram": c["histogram"],
            "non_finite": c["n_non_finite"],
        }
        for key, c in comparisons.items()
    ]
    print_table(summary, ["comparison", "n", "max_abs_diff", "histogram", "non_finite"])
    print()
    print_table(
        [{"source": src, "separation_mean_official": f"{m:.15g}"} for src, m in means.items()],
        ["source", "separation_mean_official"],
    )
    if disagreements:
        print(
            f"\nphysgen vs formulas_thresholded differ by more than {TOLERANCE:g} "
            f"on {len(disagreements)}:"
        )
        for name, d in sorted(disagreements.items(), key=lambda kv: -kv[1]):
            print(f"  {name}: {d:.3g}")
    else:
        print(f"\nphysgen agrees with formulas_thresholded within {TOLERANCE:g} everywhere")

    path = write_result(
        args.out,
        {
            "benchmark": "evaluate_parity",
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "files": {
                "generated": {"path": str(args.generated), "sha256": sha256(args.generated)},
                "reference": {"path": str(args.reference), "sha256": sha256(args.reference)},
                "binning": {"path": str(args.binning), "sha256": sha256(args.binning)},
            },
            "official": {
                label: {k: v for k, v in doc.items() if k != "separation_power"}
                for label, doc in officials.items()
            },
            "formulas_mode": args.formulas_mode,
            "physgen_on_copies": not args.use_cache,
            "n_histograms": {src: len(values) for src, values in sources.items()},
            "separation_mean_official": means,
            "max_abs_diff": {
                key: {
                    k: c[k]
                    for k in (
                        "max_abs_diff",
                        "histogram",
                        "n_common",
                        "n_non_finite",
                        "only_in_first",
                        "only_in_second",
                    )
                }
                for key, c in comparisons.items()
            },
            "tolerance": TOLERANCE,
            "physgen_vs_formulas_thresholded_above_tolerance": disagreements,
            "physgen_wall_s": physgen_s,
            "formulas_wall_s": formulas_s,
            "histograms": histograms,
            "machine": machine(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
