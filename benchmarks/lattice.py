"""Neural samplers for the 2D Ising model against exact answers (issue 7).

Trains a variational autoregressive network (one-layer MADE, Z2-symmetric) on the L x L
torus at beta, then estimates ln Z by neural importance sampling and runs neural MCMC.
Reports the relative error of the free energy against Kaufman's exact value, with its
error bar, the effective sample size, the acceptance and the training time, and the exact
mutual information of the torus halves (transfer matrix) for the L where it is computable.

    python benchmarks/lattice.py [--L 16] [--steps 3000] [--samples 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, merge_result, print_table  # noqa: E402
from physgen.core.training import StepConfig  # noqa: E402
from physgen.lattice.estimators import draw, neural_mcmc, nis_estimates  # noqa: E402
from physgen.lattice.exact import BETA_C, kaufman_log_z  # noqa: E402
from physgen.lattice.mutual_information import torus_halves_mutual_information  # noqa: E402
from physgen.lattice.variational import (  # noqa: E402
    SamplerConfig,
    build_lattice,
    lattice_spins,
    train_sampler,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=16)
    parser.add_argument("--beta", type=float, default=BETA_C)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--annealing", type=float, default=0.998)
    parser.add_argument("--samples", type=int, default=4_000_000)
    parser.add_argument("--mi-sizes", default="4,6,8,10")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = SamplerConfig(
        L=args.L,
        beta=args.beta,
        batch_size=args.batch_size,
        annealing=args.annealing,
        optimizer=StepConfig(steps=args.steps, learning_rate=args.lr, schedule=args.schedule),
    )
    start = time.perf_counter()
    sampler, _ = train_sampler(config, progress=False)
    train_s = time.perf_counter() - start
    lattice = build_lattice(config)
    start = time.perf_counter()
    log_q, energies = draw(
        sampler,
        lambda s: lattice.energy(lattice_spins(config, s).view(-1, args.L, args.L)),
        args.beta,
        args.samples,
        batch=10_000,
        seed=7,
    )
    sample_s = time.perf_counter() - start
    nis = nis_estimates(log_q, energies, args.beta, lattice.n_sites)
    mcmc = neural_mcmc(log_q, energies, args.beta)
    exact = kaufman_log_z(args.beta, args.L)
    row = {
        "L": args.L,
        "beta": args.beta,
        "steps": args.steps,
        "schedule": args.schedule,
        "learning_rate": args.lr,
        "batch_size": args.batch_size,
        "train_s": train_s,
        "samples": args.samples,
        "samples_per_s": args.samples / sample_s,
        "nis_relerr": abs(nis["log_z"] - exact) / abs(exact),
        "nis_relerr_sigma": nis["log_z_err"] / abs(exact),
        "variational_relerr": abs(
            nis["variational_free_energy_per_site"] * args.beta * lattice.n_sites + exact
        )
        / abs(exact),
        "ess": nis["ess_fraction"],
        "nmcmc_acceptance": mcmc["acceptance"],
        "nmcmc_tau_int": mcmc["tau_int_energy"],
    }
    print_table([row], list(row))
    mi_rows = []
    for L in (int(v) for v in args.mi_sizes.split(",")):
        for beta in (0.3, BETA_C, 0.6):
            start = time.perf_counter()
            value = torus_halves_mutual_information(L, beta)["mutual_information"]
            mi_rows.append(
                {"L": L, "beta": beta, "exact_mi": value, "seconds": time.perf_counter() - start}
            )
    print_table(mi_rows, list(mi_rows[0]))
    key = f"ising2d_L{args.L}_betac_nis_relerr" if abs(args.beta - BETA_C) < 1e-6 else "nis_relerr"
    merge_result(
        "lattice",
        {
            "machine": machine(),
            key: row["nis_relerr"],
            "van": [row],
            "exact_mutual_information": mi_rows,
        },
    )


if __name__ == "__main__":
    main()
