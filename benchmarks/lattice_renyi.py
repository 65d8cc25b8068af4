"""Renyi-2 entanglement entropy of the critical transverse-field Ising ring from neural samplers
of its classical 2D form (replica trick), against exact answers (issue 7).

For each Trotter step delta: train a one-layer Z2-symmetric MADE VAN on the M x N classical
torus (M = beta / delta), estimate S_2(l) for every interval l = 1..N-1 with the swap
estimator, and compare with the exact value of the same lattice (dense transfer matrix).
Two steps give the continuum (delta -> 0) extrapolation S_2 + c delta^2, compared with the
free-fermion ground state of the quantum ring. Updates benchmarks/results/lattice.json.

    python benchmarks/lattice_renyi.py [--sites 6] [--beta 16] [--steps-list 0.5,0.25]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, merge_result, print_table  # noqa: E402
from physgen.core.training import StepConfig  # noqa: E402
from physgen.lattice.entanglement import chain_renyi2  # noqa: E402
from physgen.lattice.variational import SamplerConfig, train_sampler, trotter_chain  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=6)
    parser.add_argument("--beta", type=float, default=16.0)
    parser.add_argument("--steps-list", default="0.5,0.25", help="two Trotter steps")
    parser.add_argument("--train-steps", type=int, default=3000)
    parser.add_argument("--samples", type=int, default=200_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    deltas = [float(v) for v in args.steps_list.split(",")]
    runs = []
    for delta in deltas:
        config = SamplerConfig(
            lattice="tfim-chain",
            L=args.sites,
            beta=args.beta,
            trotter_step=delta,
            optimizer=StepConfig(steps=args.train_steps, schedule="cosine"),
        )
        start = time.perf_counter()
        sampler, _ = train_sampler(config, progress=False)
        train_s = time.perf_counter() - start
        chain = trotter_chain(config)
        start = time.perf_counter()
        result = chain_renyi2(sampler, chain, args.samples, seed=5)
        estimate_s = time.perf_counter() - start
        rows = [
            {
                "delta": delta,
                "slices": chain.slices,
                "l": size,
                "renyi2": value,
                "err": error,
                "exact_lattice": exact,
                "pull": (value - exact) / error,
            }
            for size, value, error, exact in zip(
                result["subsystem_sizes"],
                result["renyi2"],
                result["renyi2_err"],
                result["exact_lattice_renyi2"],
                strict=True,
            )
        ]
        print_table(rows, list(rows[0]))
        ess = result["pair_ess_fraction"]
        print(f"train {train_s:.0f} s, estimate {estimate_s:.0f} s, pair ESS {ess:.3f}")
        runs.append(
            {
                "trotter_step": delta,
                "slices": chain.slices,
                "classical_sites": chain.slices * chain.sites,
                "train_s": train_s,
                "estimate_s": estimate_s,
                **result,
            }
        )
    continuum = _extrapolate(runs)
    print_table(continuum, list(continuum[0]))
    merge_result(
        "lattice",
        {
            "machine": machine(),
            "renyi2_tfim": {
                "sites": args.sites,
                "beta": args.beta,
                "train_steps": args.train_steps,
                "samples": args.samples,
                "runs": runs,
                "continuum": continuum,
            },
            "renyi2_max_abs_err_vs_exact_lattice": max(
                abs(v - e)
                for run in runs
                for v, e in zip(run["renyi2"], run["exact_lattice_renyi2"], strict=True)
            ),
            "renyi2_max_abs_pull_vs_exact_lattice": max(
                abs(v - e) / s
                for run in runs
                for v, e, s in zip(
                    run["renyi2"], run["exact_lattice_renyi2"], run["renyi2_err"], strict=True
                )
            ),
            # the quantum ground state is compared up to l = N/2: beyond, the finite beta shows
            "renyi2_continuum_max_abs_err_vs_quantum": max(
                abs(row["continuum"] - row["quantum"])
                for row in continuum
                if row["l"] <= args.sites // 2
            ),
        },
    )


def _extrapolate(runs: list[dict]) -> list[dict]:
    """Richardson extrapolation to delta -> 0 from two steps, S(delta) = S_0 + c delta^2."""
    (coarse, fine) = sorted(runs, key=lambda run: -run["trotter_step"])
    d1, d2 = coarse["trotter_step"] ** 2, fine["trotter_step"] ** 2
    rows = []
    for index, size in enumerate(fine["subsystem_sizes"]):
        s1, s2 = coarse["renyi2"][index], fine["renyi2"][index]
        e1, e2 = coarse["renyi2_err"][index], fine["renyi2_err"][index]
        x1, x2 = coarse["exact_lattice_renyi2"][index], fine["exact_lattice_renyi2"][index]
        rows.append(
            {
                "l": size,
                "continuum": (d1 * s2 - d2 * s1) / (d1 - d2),
                "err": float(np.hypot(d1 * e2, d2 * e1) / (d1 - d2)),
                "exact_lattice_continuum": (d1 * x2 - d2 * x1) / (d1 - d2),
                "quantum": fine["quantum_ground_state_renyi2"][index],
            }
        )
    return rows


if __name__ == "__main__":
    main()
