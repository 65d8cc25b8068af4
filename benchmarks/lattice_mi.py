"""Mutual information between the torus halves from trained VANs vs the exact transfer matrix.

For each L and beta: train a one-layer Z2-symmetric MADE VAN, draw samples until the error
bar is 0.15% of I (at most 4e6), estimate I(A:B) by importance sampling with the conditional
partition functions Z(a), Z(b) from the transfer matrix (so the error measured is that of
the sampler and the estimator, not of a conditional network), and compare with the exact I.
Writes benchmarks/results/lattice_mi.json.

    python benchmarks/lattice_mi.py [--sizes 4,6,8,10,12] [--steps 3000] [--target-relerr 0.0015]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, merge_result, print_table, write_result  # noqa: E402
from physgen.core.training import StepConfig  # noqa: E402
from physgen.lattice.exact import BETA_C  # noqa: E402
from physgen.lattice.mutual_information import (  # noqa: E402
    combine_mutual_information,
    exact_conditional_log_z,
    mutual_information_terms,
    torus_halves_mutual_information,
)
from physgen.lattice.variational import SamplerConfig, build_lattice, lattice_spins, train_sampler  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,6,8,10,12")
    parser.add_argument("--betas", default=f"0.3,{BETA_C},0.6")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument(
        "--target-relerr",
        type=float,
        default=0.0015,
        help="draw samples until the error bar is this fraction of I (or --max-samples)",
    )
    parser.add_argument("--min-samples", type=int, default=200_000)
    parser.add_argument("--max-samples", type=int, default=4_000_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for L in (int(v) for v in args.sizes.split(",")):
        for beta in (float(v) for v in args.betas.split(",")):
            config = SamplerConfig(
                L=L, beta=beta, optimizer=StepConfig(steps=args.steps, schedule=args.schedule)
            )
            start = time.perf_counter()
            sampler, _ = train_sampler(config, progress=False)
            train_s = time.perf_counter() - start
            start = time.perf_counter()
            estimate = _estimate_to_precision(sampler, config, args)
            exact = torus_halves_mutual_information(L, beta)["mutual_information"]
            rows.append(
                {
                    "L": L,
                    "beta": round(beta, 7),
                    "mi": estimate["mutual_information"],
                    "mi_err": estimate["mutual_information_err"],
                    "exact": exact,
                    "relerr": abs(estimate["mutual_information"] - exact) / exact,
                    "relerr_sigma": estimate["mutual_information_err"] / exact,
                    "samples": estimate["n_samples"],
                    "train_s": train_s,
                    "estimate_s": time.perf_counter() - start,
                }
            )
            print_table(rows[-1:], list(rows[-1]))
    print_table(rows, list(rows[0]))
    write_result(
        "lattice_mi",
        {
            "machine": machine(),
            "steps": args.steps,
            "schedule": args.schedule,
            "target_relerr": args.target_relerr,
            "mi_max_relerr_vs_exact": max(r["relerr"] for r in rows),
            "results": rows,
        },
    )
    merge_result(
        "lattice",
        {
            "mi_max_relerr_vs_exact": max(r["relerr"] for r in rows),
            "mi_note": "from benchmarks/results/lattice_mi.json (VAN samples, exact conditional Z)",
        },
    )


def _estimate_to_precision(sampler, config, args, chunk: int = 100_000) -> dict:
    """Chunks of samples until the error bar reaches the target (at least --min-samples)."""
    lattice = build_lattice(config)
    log_z_a, log_z_b = exact_conditional_log_z(config.L, config.beta)
    generator = torch.Generator().manual_seed(3)
    log_w, terms = [], []
    wanted, drawn = args.min_samples, 0
    while drawn < wanted:
        bits = sampler.sample(chunk, generator)
        with torch.no_grad():
            log_q = sampler.log_prob(bits)
        spins = lattice_spins(config, bits).view(-1, config.L, config.L)
        parts = mutual_information_terms(
            spins, log_q, lattice.energy(spins), config.beta, log_z_a, log_z_b
        )
        log_w.append(parts[0])
        terms.append(parts[1])
        drawn += chunk
        if drawn >= wanted:
            estimate = combine_mutual_information(torch.cat(log_w), torch.cat(terms))
            ratio = estimate["mutual_information_err"] / (
                args.target_relerr * abs(estimate["mutual_information"])
            )
            wanted = min(args.max_samples, max(wanted, int(drawn * ratio**2)))
    return combine_mutual_information(torch.cat(log_w), torch.cat(terms))


if __name__ == "__main__":
    main()
