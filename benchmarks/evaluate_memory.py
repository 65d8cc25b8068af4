"""Peak memory and wall time of a full `physgen calo evaluate` on dataset-2-sized files.

100k generated vs 100k reference synthetic showers (6480 voxels, ~90% zeros; see
features_speed.py) with every metric. The official classifier trains up to 50 epochs per
input type, hours on a CPU; `--epochs` limits it (memory does not depend on the number of
epochs) and the script reports the time per epoch so that the full run can be extrapolated.
Run in a fresh process so that the peak RSS is the evaluation's own.

    python benchmarks/evaluate_memory.py [--n 100000] [--voxels 6480] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_result  # noqa: E402


def make_file(path: Path, n: int, n_voxels: int, seed: int) -> None:
    from features_speed import synthetic_ds2_showers
    from physgen.calo.geometry import get_geometry
    from physgen.calo.io import ShowerWriter

    rng = np.random.default_rng(seed)
    coarse_of_fine = None
    if n_voxels != 6480:  # ds3-sized: share each ds2 voxel among the ds3 voxels inside it
        ds2, ds3 = get_geometry("ds2"), get_geometry("ds3")
        layer, alpha, r = ds3.voxel_to_bins(np.arange(ds3.n_voxels))
        coarse_of_fine = ds2.bins_to_voxel(layer, alpha * 16 // 50, r // 2)
        counts = np.bincount(coarse_of_fine, minlength=6480)
    with ShowerWriter(path, n_voxels, {"generator": "benchmarks synthetic"}) as writer:
        for start in range(0, n, 5000):
            energies, showers = synthetic_ds2_showers(min(5000, n - start), rng)
            if coarse_of_fine is not None:
                showers = showers[:, coarse_of_fine] / counts[coarse_of_fine]
            writer.append(energies, showers.astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--voxels", type=int, default=6480, choices=[6480, 40500])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/physgen-bench"))
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in (0, 1):
        path = args.scratch / f"synthetic_{args.voxels}_{args.n}_seed{seed}.h5"
        if not path.exists():
            make_file(path, args.n, args.voxels, seed)
        paths.append(path)
    out = args.scratch / f"eval_{args.voxels}_{args.n}"
    start = time.perf_counter()
    run = subprocess.run(
        [
            "/usr/bin/time",
            "-v",
            "physgen",
            "calo",
            "evaluate",
            "--generated",
            str(paths[1]),
            "--reference",
            str(paths[0]),
            "--out",
            str(out),
            "--epochs",
            str(args.epochs),
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if run.returncode:
        print(run.stderr[-3000:])
        raise SystemExit(run.returncode)
    # GNU time's "Maximum resident set size (kbytes)" is ru_maxrss: KiB (1024 bytes) on Linux
    peak_kib = next(
        int(line.split()[-1])
        for line in run.stderr.splitlines()
        if "Maximum resident set size" in line
    )
    metrics = json.loads((out / "metrics.json").read_text())
    epoch_s = {k: v["seconds_per_epoch"] for k, v in metrics["classifiers"].items()}
    full_estimate = wall + sum(49 * v for v in epoch_s.values())
    row = {
        "n_each": args.n,
        "voxels": args.voxels,
        "classifier_epochs": args.epochs,
        "wall_s": wall,
        "peak_rss_kib": peak_kib,
        "peak_rss_gib": peak_kib / 2**20,
        "storage": metrics["classifier_storage"],
        "s_per_epoch_low": epoch_s["low"],
        "s_per_epoch_high": epoch_s["high"],
        "est_wall_50_epochs_s": full_estimate,
    }
    print_table([row], list(row))
    write_result(
        f"evaluate_memory_{args.voxels}",
        {"machine": machine(), "results": [row], "epoch_seconds": epoch_s},
    )


if __name__ == "__main__":
    main()
