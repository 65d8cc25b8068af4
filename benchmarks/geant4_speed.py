"""Speed and physics of the Geant4 reference simulator (the denominator of every speed-up).

Measures CPU seconds per electron shower in the ds2 (Par04) geometry at 1, 10 and 100 GeV,
the showers per second of the whole `physgen calo simulate` command (1-100 GeV log-uniform,
--jobs 1 and 2), the physics validation figures, and - when ../shared is present - a
cross-check against the independently simulated reference showers there.

    python benchmarks/geant4_speed.py
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, write_result  # noqa: E402
from physgen.calo.features import compute_features  # noqa: E402
from physgen.calo.geometry import get_geometry  # noqa: E402
from physgen.calo.simulate import SimulationConfig, _simulate_chunk  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "calochallenge" / "g4-ds2-e-1-100GeV"
DS2 = get_geometry("ds2")


def _timed_showers(energy_gev: float, n: int, seed: int):
    config = SimulationConfig(seed=seed)
    _simulate_chunk(config, None, 0, np.array([energy_gev * 1e3]))  # warm-up: physics tables
    _, showers, cpu_s, dropped, _, _ = _simulate_chunk(
        config, None, 1, np.full(n, energy_gev * 1e3)
    )
    return showers, cpu_s / n, dropped


def run_fresh(function, *args):
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


def profile_stats(energies_mev, showers):
    features = compute_features(DS2, energies_mev, showers)
    response = features.e_tot / features.incident_energy
    depth = (features.e_layer * (np.arange(45) + 0.5)).sum(1) / np.maximum(features.e_tot, 1e-9)
    return {
        "mean_response": float(response.mean()),
        "rms_response": float(response.std()),
        "mean_depth_layers": float(depth.mean()),
        "mean_width_r_layer10_mm": float(features.width_r[:, 10].mean()),
    }


def main() -> None:
    rows = []
    for energy, n in ((1.0, 40), (10.0, 10), (100.0, 3)):
        showers, cpu_per_shower, dropped = run_fresh(_timed_showers, energy, n, 17)
        inside = showers.sum(1) * 0.033
        rows.append(
            {
                "energy_gev": energy,
                "n_showers": n,
                "cpu_s_per_shower": cpu_per_shower,
                "mean_etot_over_einc": float((showers.sum(1) / (energy * 1e3)).mean()),
                "readout_containment": float(np.mean(inside / (inside + dropped))),
            }
        )
    print_table(rows, list(rows[0]))

    command_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in (1, 2):
            out = Path(tmp) / f"cmd{jobs}.h5"
            start = time.perf_counter()
            subprocess.run(
                [
                    "physgen",
                    "calo",
                    "simulate",
                    "--geometry",
                    "ds2",
                    "--particle",
                    "e-",
                    "--energy",
                    "1:100",
                    "--spectrum",
                    "log-uniform",
                    "--n",
                    "60",
                    "--seed",
                    "1",
                    "--jobs",
                    str(jobs),
                    "--out",
                    str(out),
                ],
                check=True,
                capture_output=True,
            )
            wall = time.perf_counter() - start
            command_rows.append(
                {
                    "command": f"simulate --energy 1:100 --n 60 --jobs {jobs}",
                    "wall_s": wall,
                    "showers_per_s": 60 / wall,
                }
            )
    print_table(command_rows, list(command_rows[0]))

    cross_check = None
    if SHARED.is_dir():
        from physgen.calo.io import read_showers
        from physgen.calo.simulate import incident_energies_mev

        ref_e, ref_s = read_showers(SHARED / "g4_ds2_e_1-100GeV_seed201.h5")
        low = ref_e <= 1e4
        energies = incident_energies_mev("1:10", "log-uniform", 300, 23)
        ours = run_fresh(_showers_at, energies, 23)
        cross_check = {
            "selection": "1-10 GeV",
            "n_shared": int(low.sum()),
            "n_physgen": 300,
            "shared": profile_stats(ref_e[low], ref_s[low]),
            "physgen": profile_stats(energies, ours),
        }
        table = [{"sample": k, **cross_check[k]} for k in ("shared", "physgen")]
        print_table(table, list(table[0]))
    write_result(
        "geant4_speed",
        {
            "machine": machine(),
            "per_energy": rows,
            "command": command_rows,
            "cross_check_vs_shared": cross_check,
        },
    )


def _showers_at(energies_mev, seed):
    return _simulate_chunk(SimulationConfig(seed=seed), None, 0, np.asarray(energies_mev))[1]


if __name__ == "__main__":
    main()
