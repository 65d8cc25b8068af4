"""Jet emulation benchmark: Pythia 8 + FastJet rate, IQN training on 200k pairs, IQN
generation rate, and accuracy against held-out Pythia (with the two-Pythia-sample floor).

The three data files (train 200k, test 50k, floor 50k pairs; pTHat^4-biased spectrum, pTHat >
30 GeV, seeds 11/12/13) are made with `physgen jets simulate` into --data-dir when missing.
Speeds are measured in this run, in this process, with one torch thread:
- Pythia + clustering + matching: pairs per second of `simulate_jets` on fresh chunks, for the
  biased spectrum used here and the unbiased one;
- IQN: jets per second of `jets.emulator.emulate` on the 50k test parton jets (batch 50k).

    python benchmarks/jets.py [--data-dir DIR] [--epochs N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from _common import machine, print_table, write_result
from physgen.core.cache import cache_dir
from physgen.jets.emulator import EmulatorConfig, JetEmulator, emulate
from physgen.jets.evaluate import JetEvaluationConfig, evaluate_emulator
from physgen.jets.io import read_pairs
from physgen.jets.simulate import JetSimulationConfig, simulate_jets

FILES = {"train": (200_000, 11), "test": (50_000, 12), "floor": (50_000, 13)}


def ensure_data(data_dir: Path) -> dict:
    paths = {}
    for name, (n, seed) in FILES.items():
        path = data_dir / f"{name}.h5"
        if not path.exists():
            config = JetSimulationConfig(n=n, seed=seed, biased=True, chunk_events=1000)
            simulate_jets(config, path, resume=True)
        paths[name] = path
    return paths


def pythia_rate(biased: bool, n: int = 4000) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        config = JetSimulationConfig(n=n, seed=99, biased=biased, chunk_events=1000)
        return simulate_jets(config, Path(tmp) / "rate.h5", progress=False)["rows_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=cache_dir() / "jets" / "benchmark")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    paths = ensure_data(args.data_dir)

    rate_biased, rate_unbiased = pythia_rate(True), pythia_rate(False)
    parton, particle = read_pairs(paths["train"])
    default = EmulatorConfig()
    config = replace(default, training=replace(default.training, epochs=args.epochs))
    emulator = JetEmulator.from_config(config)
    started = time.perf_counter()
    history = emulator.fit(torch.as_tensor(particle), torch.as_tensor(parton))
    train_s = time.perf_counter() - started

    test, floor = read_pairs(paths["test"]), read_pairs(paths["floor"])
    emulate(emulator, test[0][:1000])  # warm-up
    started = time.perf_counter()
    generated = emulate(emulator, test[0], seed=1)
    iqn_rate = len(generated) / (time.perf_counter() - started)
    metrics, _ = evaluate_emulator(
        emulator, test, generated, floor, JetEvaluationConfig(max_rows=50_000)
    )
    result = {
        "pythia_pairs_per_s": rate_biased,
        "pythia_pairs_per_s_unbiased": rate_unbiased,
        "iqn_jets_per_s": iqn_rate,
        "speedup_vs_pythia": iqn_rate / rate_biased,
        "train_pairs": len(parton),
        "train_s": train_s,
        "epochs_run": len(history["iqn"]["history"]),
        "auc": metrics["classifier"]["auc"],
        "auc_err": metrics["classifier"]["auc_err"],
        "auc_floor": metrics["floor_classifier"]["auc"],
        "auc_floor_err": metrics["floor_classifier"]["auc_err"],
        "pit_ks_min_pvalue": metrics["pit_ks_min_pvalue"],
        "pit_ks_max_statistic": metrics["pit_ks_max_statistic"],
        "monotonicity_violation_fraction": metrics["monotonicity_violation_fraction"],
        "w1": metrics["distances"],
        "w1_floor": metrics["floor_distances"],
        "pit_tests": metrics["pit_tests"],
        "machine": machine(),
    }
    print_table(
        [{k: v for k, v in result.items() if not isinstance(v, dict)}],
        [
            "pythia_pairs_per_s",
            "iqn_jets_per_s",
            "speedup_vs_pythia",
            "train_s",
            "auc",
            "auc_floor",
            "pit_ks_min_pvalue",
            "pit_ks_max_statistic",
        ],
    )
    rows = [
        {"metric": key, "iqn": value, "floor": metrics["floor_distances"].get(key)}
        for key, value in metrics["distances"].items()
    ]
    print_table(rows, ["metric", "iqn", "floor"])
    pit_rows = [{"test": k, **v} for k, v in metrics["pit_tests"].items()]
    print_table(pit_rows, ["test", "n", "ks", "p_value"])
    print(f"wrote {write_result('jets', result)}")


if __name__ == "__main__":
    main()
