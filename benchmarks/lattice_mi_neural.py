"""Mutual information between the torus halves with neural conditional partition functions,
at sizes beyond the transfer matrix (issue 7).

For each L and beta: train a full-torus sampler (one-layer Z2-symmetric MADE VAN, or the
HAN with --network han), draw boundary rows from it, train the conditional strip sampler
q(b | x, y) of physgen.lattice.conditional_z on them (one-layer VAN, or hierarchical with
--strip-network han), and estimate I(A:B) with Z(a), Z(b)
from K conditional draws per outer sample. Where the transfer matrix reaches (L <= 12) the
exact I and the estimate with exact conditional Z on the same outer samples are printed
beside it. Writes benchmarks/results/lattice_mi_neural.json (rows merged by L and beta).

    python benchmarks/lattice_mi_neural.py [--sizes 8,16] [--network made] [--outer 20000]
    python benchmarks/lattice_mi_neural.py --sizes 64 --betas 0.4406868 --full-sampler S.pt
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, merge_result, print_table  # noqa: E402
from physgen.core.training import StepConfig  # noqa: E402
from physgen.lattice.conditional_z import (  # noqa: E402
    boundary_pool,
    neural_conditional_log_z,
    train_strip_sampler,
)
from physgen.lattice.estimators import nis_estimates  # noqa: E402
from physgen.lattice.exact import BETA_C  # noqa: E402
from physgen.lattice.mutual_information import (  # noqa: E402
    exact_conditional_log_z,
    mutual_information_estimate,
    torus_halves_mutual_information,
)
from physgen.lattice.variational import (  # noqa: E402
    SamplerConfig,
    build_lattice,
    load_sampler,
    train_sampler,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8,16")
    parser.add_argument("--betas", default=f"0.3,{BETA_C},0.6")
    parser.add_argument("--network", default="made", choices=["made", "han"])
    parser.add_argument("--steps", type=int, default=3000, help="full-torus sampler steps")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--strip-steps", type=int, default=2000)
    parser.add_argument("--strip-network", default="made", choices=["made", "han"])
    parser.add_argument("--outer", type=int, default=20_000, help="outer torus samples")
    parser.add_argument("--draws", type=int, default=64, help="conditional draws per half")
    parser.add_argument(
        "--full-sampler", type=Path, help="a saved full-torus sampler (one L and beta) to reuse"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for L in (int(v) for v in args.sizes.split(",")):
        for beta in (float(v) for v in args.betas.split(",")):
            rows.append(_measure(L, beta, args))
            print_table(rows[-1:], list(rows[-1]))
    print_table(rows, list(rows[0]))
    path = RESULTS / "lattice_mi_neural.json"
    previous = json.loads(path.read_text())["results"] if path.exists() else []
    kept = [r for r in previous if all((r["L"], r["beta"]) != (n["L"], n["beta"]) for n in rows)]
    merged = sorted(kept + rows, key=lambda r: (r["L"], r["beta"]))
    merge_result("lattice_mi_neural", {"machine": machine(), "results": merged})


def _measure(L: int, beta: float, args) -> dict:
    config = SamplerConfig(
        L=L,
        beta=beta,
        network=args.network,
        batch_size=args.batch_size,
        optimizer=StepConfig(steps=args.steps, schedule="cosine"),
    )
    start = time.perf_counter()
    if args.full_sampler:
        full, saved = load_sampler(args.full_sampler)
        if saved.L != L or abs(saved.beta - beta) > 1e-6:
            raise SystemExit(f"{args.full_sampler} is L = {saved.L}, beta = {saved.beta}")
        config, full_s = saved, None  # trained elsewhere (benchmarks/lattice.py --save)
    else:
        full, _ = train_sampler(config, progress=False)
        full_s = time.perf_counter() - start
    pool = boundary_pool(_spins(full, 20_000, L, seed=1))
    start = time.perf_counter()
    strip, _ = train_strip_sampler(
        pool,
        L,
        beta,
        StepConfig(steps=args.strip_steps, schedule="cosine"),
        network=args.strip_network,
        progress=False,
    )
    strip_s = time.perf_counter() - start
    bits = full.sample(args.outer, torch.Generator().manual_seed(2))
    with torch.no_grad():
        log_q = torch.cat([full.log_prob(chunk) for chunk in bits.split(5000)])
    spins = (2 * bits - 1).view(-1, L, L)
    energies = torch.as_tensor(build_lattice(config).energy(spins))
    start = time.perf_counter()
    neural = mutual_information_estimate(
        spins, log_q, energies, beta, *neural_conditional_log_z(strip, beta, args.draws)
    )
    estimate_s = time.perf_counter() - start
    ess = nis_estimates(log_q.double().numpy(), energies.double().numpy(), beta, L * L)
    row = {
        "L": L,
        "beta": round(beta, 7),
        "network": config.network,
        "full_steps": config.optimizer.steps,
        "strip_network": args.strip_network,
        "mi": neural["mutual_information"],
        "mi_err": neural["mutual_information_err"],
        "mi_per_L": neural["mutual_information"] / L,
        "ess": ess["ess_fraction"],
        "outer": args.outer,
        "draws": args.draws,
        "full_train_s": full_s,
        "strip_train_s": strip_s,
        "estimate_s": estimate_s,
    }
    if L <= 12:
        exact_z = mutual_information_estimate(
            spins, log_q, energies, beta, *exact_conditional_log_z(L, beta)
        )
        exact = torus_halves_mutual_information(L, beta)["mutual_information"]
        row.update(
            {
                "mi_exact_z": exact_z["mutual_information"],
                "exact": exact,
                "relerr": abs(neural["mutual_information"] - exact) / exact,
            }
        )
    return row


def _spins(sampler, n: int, L: int, seed: int) -> torch.Tensor:
    return (2 * sampler.sample(n, torch.Generator().manual_seed(seed)) - 1).view(-1, L, L)


if __name__ == "__main__":
    main()
