"""High-level features of 100k dataset-2-sized showers (6480 voxels) read from a gzip HDF5 file.

Target (issue 2): under 60 s and under 2 GB peak memory on the 2-vCPU development machine.
The input is a synthetic file with realistic sparsity (about 90% zero voxels), written once
to a scratch directory; the feature pass runs in a fresh process so its peak memory is its own.

    python benchmarks/features_speed.py [--n 100000] [--scratch DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, peak_rss_mb, print_table, write_result  # noqa: E402


def synthetic_ds2_showers(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Electron-like showers: gamma longitudinal profile, exponential lateral, sparse."""
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n)).astype(np.float32)
    layer = np.arange(45)[None, :, None, None]
    r_centre = (np.arange(9) + 0.5)[None, None, None, :] * 4.65
    t_max = 2 + np.log(energies / 1e3)[:, None, None, None]
    longitudinal = (layer + 0.5) ** 2 * np.exp(-2 * (layer + 0.5) / t_max)
    lateral = np.exp(-r_centre / 6.0)
    mean = longitudinal * lateral * np.ones((1, 1, 16, 1))
    mean = mean / mean.sum(axis=(1, 2, 3), keepdims=True) * energies[:, None, None, None]
    showers = rng.gamma(0.5, 2 * mean).astype(np.float32)
    showers[rng.random(showers.shape) < 0.85] = 0
    return energies, showers.reshape(n, 6480)


def make_file(path: Path, n: int) -> None:
    from physgen.calo.io import ShowerWriter

    rng = np.random.default_rng(0)
    with ShowerWriter(path, 6480, {"generator": "benchmarks/features_speed.py synthetic"}) as w:
        for start in range(0, n, 5000):
            w.append(*synthetic_ds2_showers(min(5000, n - start), rng))


def feature_pass(path: str) -> None:
    """Run in a child process: stream the file, compute every feature, print timing."""
    from physgen.calo.features import features_from_chunks
    from physgen.calo.io import iter_showers, open_shower_file

    start = time.perf_counter()
    info = open_shower_file(path)
    features = features_from_chunks(info.geometry, iter_showers(path, chunk_size=10_000))
    wall = time.perf_counter() - start
    print(f"{len(features)} {wall} {peak_rss_mb()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/physgen-bench"))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        feature_pass(args.child)
        return
    args.scratch.mkdir(parents=True, exist_ok=True)
    path = args.scratch / f"synthetic_ds2_{args.n}.h5"
    if not path.exists():
        t = time.perf_counter()
        make_file(path, args.n)
        print(
            f"wrote {path} ({path.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t:.0f} s"
        )
    run = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=True
    )
    n_events, wall, rss = run.stdout.split()
    row = {
        "n_showers": int(n_events),
        "n_voxels": 6480,
        "wall_s": float(wall),
        "showers_per_s": int(n_events) / float(wall),
        "peak_rss_mb": float(rss),
        "file_gb": path.stat().st_size / 1e9,
        "target_wall_s": 60,
        "target_rss_mb": 2048,
    }
    print_table([row], list(row))
    write_result("features_speed", {"machine": machine(), "results": [row]})


if __name__ == "__main__":
    main()
