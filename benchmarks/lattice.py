"""Neural samplers for the 2D Ising model against exact answers (issue 7).

Trains a variational autoregressive network (one-layer MADE VAN or the hierarchical HAN,
Z2-symmetric) on the L x L torus at beta, then estimates ln Z by neural importance sampling
and runs neural MCMC.
Reports the relative error of the free energy against Kaufman's exact value, with its
error bar, the effective sample size, the acceptance and the training time, and the exact
mutual information of the torus halves (transfer matrix) for the L where it is computable.

    python benchmarks/lattice.py [--L 16] [--network made|han] [--steps 6000]
        [--samples N] [--save SAMPLER.pt] [--depth 2 --width W]  # han: W hidden units/site
    python benchmarks/lattice.py --per-step-only --L 64   # time a few steps (too slow to train)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, merge_result, print_table, replace_rows  # noqa: E402
from physgen.core.training import StepConfig  # noqa: E402
from physgen.lattice.estimators import draw, neural_mcmc, nis_estimates  # noqa: E402
from physgen.lattice.exact import BETA_C, kaufman_log_z  # noqa: E402
from physgen.lattice.mutual_information import torus_halves_mutual_information  # noqa: E402
from physgen.lattice.symmetries import torus_symmetries  # noqa: E402
from physgen.lattice.variational import (  # noqa: E402
    SamplerConfig,
    build_lattice,
    han_hidden_units,
    lattice_spins,
    save_sampler,
    train_sampler,
)
from physgen.models.symmetrized import PermutationAveraged  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=16)
    parser.add_argument("--network", default="made", choices=["made", "han"])
    parser.add_argument("--depth", type=int, default=1, help="han: 2 = hidden units per site")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--sample-batch", type=int, default=10_000)
    parser.add_argument(
        "--per-step-only", action="store_true", help="time 10 training steps, no estimate"
    )
    parser.add_argument("--beta", type=float, default=BETA_C)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--annealing", type=float, default=0.998)
    parser.add_argument("--samples", type=int, default=4_000_000)
    parser.add_argument("--mi-sizes", default="", help="also time the exact MI at these L")
    parser.add_argument("--save", type=Path, help="write the trained sampler to this file")
    parser.add_argument(
        "--symmetrize",
        default="none",
        help="comma list of none, dihedral, dihedral-half-shifts: one estimate each, with the "
        "trained sampler averaged over those torus symmetries",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = SamplerConfig(
        L=args.L,
        beta=args.beta,
        network=args.network,
        depth=args.depth,
        width=args.width,
        batch_size=args.batch_size,
        annealing=args.annealing,
        optimizer=StepConfig(steps=args.steps, learning_rate=args.lr, schedule=args.schedule),
    )
    if args.per_step_only:
        config = replace(config, optimizer=replace(config.optimizer, steps=10))
    start = time.perf_counter()
    sampler, _ = train_sampler(config, progress=False)
    train_s = time.perf_counter() - start
    if args.save:
        save_sampler(args.save, sampler, config)
    if args.per_step_only:
        _record_per_step(args, config, train_s / 10)
        return
    lattice = build_lattice(config)
    rows = []
    for group in args.symmetrize.split(","):
        evaluated = sampler
        if group != "none":
            evaluated = PermutationAveraged(sampler, torus_symmetries(args.L, group))
        start = time.perf_counter()
        log_q, energies = draw(
            evaluated,
            lambda s: lattice.energy(lattice_spins(config, s).view(-1, args.L, args.L)),
            args.samples,
            batch=args.sample_batch,
            seed=7,
        )
        sample_s = time.perf_counter() - start
        nis = nis_estimates(log_q, energies, args.beta, lattice.n_sites)
        mcmc = neural_mcmc(log_q, energies, args.beta)
        exact = kaufman_log_z(args.beta, args.L)
        rows.append(
            {
                "network": args.network,
                "hidden": han_hidden_units(config),
                "symmetrized": group,
                "parameters": sum(p.numel() for p in sampler.parameters()),
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
        )
        print_table(rows[-1:], list(rows[-1]))
    row = rows[0]
    mi_rows = []
    for L in (int(v) for v in args.mi_sizes.split(",") if v):
        for beta in (0.3, BETA_C, 0.6):
            start = time.perf_counter()
            value = torus_halves_mutual_information(L, beta)["mutual_information"]
            mi_rows.append(
                {"L": L, "beta": beta, "exact_mi": value, "seconds": time.perf_counter() - start}
            )
    payload = {"machine": machine(), "samplers": _merge_rows("samplers", *rows)}
    if abs(args.beta - BETA_C) < 1e-6:
        payload[f"ising2d_L{args.L}_betac_{args.network}_nis_relerr"] = row["nis_relerr"]
        if args.network == "made":
            payload[f"ising2d_L{args.L}_betac_nis_relerr"] = row["nis_relerr"]
    if mi_rows:
        print_table(mi_rows, list(mi_rows[0]))
        payload["exact_mutual_information"] = mi_rows
    merge_result("lattice", payload)


def _merge_rows(key: str, *new_rows: dict) -> list[dict]:
    """The result file's rows under ``key`` with those of the same network, hidden units,
    symmetrization, L, beta, steps and batch size as a new row replaced by it (rows without
    ``hidden`` / ``symmetrized``: 0 / "none")."""
    path = RESULTS / "lattice.json"
    rows = json.loads(path.read_text()).get(key, []) if path.exists() else []
    same = ("network", "hidden", "symmetrized", "L", "beta", "steps", "batch_size")
    return replace_rows(rows, new_rows, same, {"hidden": 0, "symmetrized": "none"})


def _record_per_step(args, config, seconds_per_step: float) -> None:
    row = {
        "network": args.network,
        "hidden": han_hidden_units(config),
        "L": args.L,
        "batch_size": args.batch_size,
        "seconds_per_step": seconds_per_step,
    }
    print_table([row], list(row))
    merge_result(
        "lattice", {"per_step_timings": _merge_rows("per_step_timings", {**row, "beta": args.beta})}
    )


if __name__ == "__main__":
    main()
