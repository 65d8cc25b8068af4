"""ONNX export of calorimeter surrogates: parity with torch and onnxruntime's CPU speed.

For each run given (default: the latent flow of benchmarks/configs/latent-flow.yaml, trained
on the shared Geant4 file seed201 into --runs), the model is exported with `physgen calo
export`'s code, and onnxruntime and torch generate the same showers from the same noise:
- parity on --n showers (default 10,000) at incident energies log-uniform in 1-100 GeV: the
  largest voxel difference relative to max(|torch|, the zero-suppression cut), and beside it
  the same difference between torch float32 and a float64 copy of the model (what float32
  rounding alone moves);
- speed at batch 1, 100 and 10,000: ms per shower of onnxruntime and of torch, both on one
  thread and both timed here in the same run (the ratio is the result; torch's time includes
  its own noise handling exactly as the graph's).

    python benchmarks/onnx_export.py [--run RUN ...] [--n 10000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from _calo_runs import trained_model
from _common import machine, print_table, write_result
from physgen.calo.export import check_parity, export_shower_model, onnx_showers, torch_showers
from physgen.calo.models import SHOWER_MODELS
from physgen.models.export import load_onnx

SHARED = Path(__file__).resolve().parents[2] / "shared" / "calochallenge" / "g4-ds2-e-1-100GeV"
BATCHES = (1, 100, 10000)


def _energies(n: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).random(n)
    return np.exp(np.log(1e3) + u * np.log(100)).astype(np.float32)


def _time(call, rows: int, budget_s: float = 20.0) -> float:
    """ms per row of ``call`` (repeated until ``budget_s`` or 3 calls, after one warm-up)."""
    call()
    calls, started = 0, time.perf_counter()
    while calls < 3 or (time.perf_counter() - started < budget_s and calls < 200):
        call()
        calls += 1
    return 1e3 * (time.perf_counter() - started) / (calls * rows)


def benchmark(run_dir: Path, n: int, out_dir: Path) -> list[dict]:
    model = SHOWER_MODELS.load(run_dir / "model.pt").eval()
    onnx_path = out_dir / f"{run_dir.name}.onnx"
    started = time.perf_counter()
    info = export_shower_model(model, onnx_path)
    export_s = time.perf_counter() - started
    parity = check_parity(model, onnx_path, _energies(n, 1), seed=2, float64_floor=True)
    session = load_onnx(onnx_path, threads=1)
    rows = []
    for batch in BATCHES:
        energies = _energies(batch, 3)
        noise = np.random.default_rng(4).standard_normal((batch, info["noise_width"]), np.float32)
        onnx_ms = _time(lambda e=energies, z=noise: onnx_showers(session, e, z), batch)
        torch_ms = _time(lambda e=energies, z=noise: torch_showers(model, e, z), batch)
        rows.append(
            {
                "run": str(run_dir),
                "model": model.name,
                "geometry": model.config.geometry,
                "noise_width": info["noise_width"],
                "onnx_bytes": onnx_path.stat().st_size,
                "export_s": export_s,
                "parity_showers": parity["showers"],
                **{k: v for k, v in parity.items() if k not in ("showers", "onnx_s", "torch_s")},
                "batch": batch,
                "threads": 1,
                "onnx_ms_per_shower": onnx_ms,
                "torch_ms_per_shower": torch_ms,
                "torch_over_onnx": torch_ms / onnx_ms,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, action="append", help="trained run folder(s)")
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/runs"))
    parser.add_argument("--n", type=int, default=10000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = args.run
    if not runs:
        run_dir = args.runs / "latent-flow-shared201"
        trained_model("latent-flow", SHARED / "g4_ds2_e_1-100GeV_seed201.h5", run_dir)
        runs = [run_dir]
    args.runs.mkdir(parents=True, exist_ok=True)
    rows = [row for run in runs for row in benchmark(run, args.n, args.runs)]
    columns = ["model", "batch", "onnx_ms_per_shower", "torch_ms_per_shower", "torch_over_onnx"]
    print_table(
        rows[:1],
        ["model", "parity_showers", "max_relative_difference", "voxels_zero_in_one_only",
         "float32_vs_float64_max_relative_difference"],
    )  # fmt: skip
    print_table(rows, columns)
    path = write_result(
        "onnx_export",
        {"machine": machine(), "command": "python benchmarks/onnx_export.py", "rows": rows},
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
