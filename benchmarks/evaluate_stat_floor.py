"""The Geant4-vs-Geant4 floor: every metric of `physgen calo evaluate` on two independent
Geant4 samples of the same physics. A surrogate cannot be expected to score below it.

By default the two files of the `ds2-e-1-100GeV` preset (train vs reference; simulate them
with `physgen calo simulate --preset ds2-e-1-100GeV`); `--files A B` compares any two files.
The classifier follows the official recipe (3 x 2048, 50 epochs, best test accuracy) unless
`--quick`.

    python benchmarks/evaluate_stat_floor.py [--files A.h5 B.h5] [--quick] [--tag NAME]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_result  # noqa: E402
from physgen.calo.evaluate import EvaluationConfig, evaluate  # noqa: E402

KEYS = (
    "auc_low",
    "auc_low_normed",
    "auc_high",
    "jsd_low",
    "fpd",
    "kpd",
    "separation_mean_official",
    "separation_etot_over_einc",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", nargs=2, type=Path, metavar=("GENERATED", "REFERENCE"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tag", default="ds2-e-1-100GeV")
    parser.add_argument("--out", type=Path, default=Path("/tmp/physgen-bench/stat-floor"))
    args = parser.parse_args()
    if args.files:
        generated, reference = args.files
    else:
        from physgen.calo.presets import get_preset

        preset = get_preset("ds2-e-1-100GeV")
        generated, reference = preset.path("train"), preset.path("reference")
        if not (generated.exists() and reference.exists()):
            raise SystemExit(
                "simulate the preset first: physgen calo simulate --preset ds2-e-1-100GeV"
            )
    metrics = evaluate(
        generated, reference, args.out / args.tag, EvaluationConfig(quick=args.quick)
    )
    row = {
        "tag": args.tag,
        "n_each": metrics["n_reference"],
        "classifier": "quick" if args.quick else "official",
        **{k: metrics[k] for k in KEYS},
        "auc_low_err": metrics["auc_low_err"],
        "fpd_err": metrics["fpd_err"],
        "wall_s": metrics["wall_s"],
    }
    print_table([row], list(row))
    write_result(
        f"evaluate_stat_floor_{args.tag}",
        {
            "machine": machine(),
            "generated": str(generated),
            "reference": str(reference),
            "results": [row],
        },
    )


if __name__ == "__main__":
    main()
