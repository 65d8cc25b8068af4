"""Flows that integrate known densities: physgen's FAB, neural importance sampling and reverse
KL against VEGAS and MadNIS, every method with the same number of target evaluations, in the
same run.

    python benchmarks/integrate.py [--targets gmm-40 many-well-32 funnel nbody-4 nbody-6]
        [--methods fab,nis,reverse-kl,vegas,madnis] [--budget 1000000] [--draws 100000]
        [--seeds 1]

Each method gets ``budget`` target evaluations to adapt (train) and ``draws`` more to
estimate: physgen's flows (batch 512, coupling RQS 6 x 64-64) train on the budget and
estimate log Z by importance sampling from ``draws`` flow samples; VEGAS (vegas 6.4.1:
``nitn`` = 10 adaptive iterations of budget / 10 evaluations, then one iteration of
``draws`` with the map frozen) reports its own estimate of the last iteration; MadNIS (1.0.0,
its default flow and variance loss, batch 1024) trains budget / 1024 steps and integrates
``draws``. The importance-sampling metrics (log Z error, ESS / N, unweighting efficiency
mean(w) / max(w)) come from the ``draws`` estimation samples of every method alike. vegas and
madnis belong to the benchmark environment only (`pip install vegas==6.4.1 madnis==1.0.0
-c constraints.txt`). The n-body targets have no closed-form integral: their reference is
flat Monte Carlo over the cube with 8,000,000 points (its error in the row). Rows:
benchmarks/results/integrate.json.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table, replace_rows, write_result  # noqa: E402
from physgen.core.run import Run  # noqa: E402
from physgen.integrate.sampler import DensityFlow, DensityFlowConfig, estimate  # noqa: E402
from physgen.integrate.targets import get_target  # noqa: E402
from physgen.metrics.importance import importance_estimates  # noqa: E402

COLUMNS = ["target", "method", "seed", "target_evals", "log_z_error", "stated_error",
           "ess_per_sample", "unweighting_efficiency", "modes_found", "wall_s"]  # fmt: skip


REFERENCE_POINTS = 8_000_000


def exact_or_reference(target) -> tuple[float, float]:
    """(log Z, its error): exact where known, else flat Monte Carlo (n-body targets)."""
    if target.exact_log_z is not None:
        return target.exact_log_z, 0.0
    if not hasattr(target, "_reference"):
        target._reference = target.reference_log_z(REFERENCE_POINTS, seed=12345)
    return target._reference


def _row(target, method, seed, estimates, evaluations, wall_s, extra=None):
    exact, exact_error = exact_or_reference(target)
    row = {
        "target": target.name,
        "dim": target.dim,
        "method": method,
        "seed": seed,
        "target_evals": evaluations,
        "log_z": estimates["log_z"],
        "exact_log_z": exact,
        "exact_log_z_error": exact_error,  # 0 where exact; flat MC's error otherwise
        "log_z_error": estimates["log_z"] - exact,
        "stated_error": estimates["log_z_error"],
        "ess_per_sample": estimates["ess_per_sample"],
        "unweighting_efficiency": estimates["unweighting_efficiency"],
        "wall_s": wall_s,
    }
    return {**row, **(extra or {})}


def _modes(target, points) -> int | None:
    if not hasattr(target, "nearest_mode"):
        return None
    found = target.nearest_mode(np.asarray(points))
    return len(set(found[found >= 0].tolist()))


def run_physgen(target, method, seed, budget, draws):
    config = DensityFlowConfig(
        target=target.name,
        lower=tuple(target.lower.tolist()),
        upper=tuple(target.upper.tolist()),
        bounded=target.bounded,
        method=method,
        budget=budget,
    )
    config = replace(config, optimizer=replace(config.optimizer, seed=seed))
    started = time.perf_counter()
    model = DensityFlow.from_config(config)
    history = model.fit(target, None, Run(progress=True))["flow"]
    result = estimate(model, target, draws, seed=seed + 100)
    with torch.no_grad():
        points = model.sample(torch.zeros(20000, 0), torch.Generator().manual_seed(seed))
    settings = asdict(config)
    extra = {"modes_found": _modes(target, points.double().numpy()), "settings": settings}
    evaluations = history["target_evaluations"] + draws
    return _row(target, method, seed, result, evaluations, time.perf_counter() - started, extra)


def _box_function(target):
    """f(u) on the unit cube, f = p(x(u)) times the box volume (float64 numpy)."""
    volume = math.exp(target.log_volume)

    def f(u):
        x = torch.as_tensor(target.from_unit(np.asarray(u)), dtype=torch.float64)
        return np.exp(target.log_density(x).numpy()) * volume

    return f


def run_vegas(target, seed, budget, draws):
    import vegas

    np.random.seed(seed)
    f = _box_function(target)
    started = time.perf_counter()
    integrator = vegas.Integrator([[0, 1]] * target.dim)
    batch = vegas.lbatchintegrand(f)
    integrator(batch, nitn=10, neval=budget // 10)
    final = integrator(batch, nitn=1, neval=draws, adapt=False)
    # importance weights of the frozen map alone (no stratification), for ESS and unweighting
    y = np.random.default_rng(seed).random((draws, target.dim))
    u, jac = np.empty_like(y), np.empty(draws)
    integrator.map.map(y, u, jac)
    with np.errstate(divide="ignore"):
        log_w = np.log(f(u)) + np.log(jac)
    sampled = importance_estimates(log_w)
    own = {"log_z": math.log(final.mean), "log_z_error": final.sdev / final.mean}
    estimates = {**sampled, "log_z": own["log_z"], "log_z_error": own["log_z_error"]}
    extra = {"map_only_log_z": sampled["log_z"], "map_only_error": sampled["log_z_error"],
             "modes_found": _modes(target, target.from_unit(u[:20000])),
             "settings": {"nitn": 10, "neval": budget // 10, "final_neval": draws}}  # fmt: skip
    return _row(target, "vegas", seed, estimates, budget + draws,
                time.perf_counter() - started, extra)  # fmt: skip


def run_madnis(target, seed, budget, draws):
    from madnis.integrator import Integrator

    torch.manual_seed(seed)
    f = _box_function(target)

    def integrand(u):
        return torch.as_tensor(f(u.detach().double().numpy()), dtype=u.dtype)

    started = time.perf_counter()
    integrator = Integrator(integrand, dims=target.dim, batch_size=1024, dtype=torch.float64)
    integrator.train(max(1, budget // 1024))
    batch = integrator.sample(draws)
    log_w = torch.log(batch.weights).double().numpy()
    estimates = importance_estimates(log_w)
    points = target.from_unit(batch.x[:20000].double().numpy())
    extra = {"modes_found": _modes(target, points),
             "settings": {"batch_size": 1024, "steps": max(1, budget // 1024)}}  # fmt: skip
    return _row(target, "madnis", seed, estimates, budget // 1024 * 1024 + draws,
                time.perf_counter() - started, extra)  # fmt: skip


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", nargs="+", default=["gmm-40", "many-well-32", "funnel"])
    parser.add_argument("--methods", default="fab,nis,reverse-kl,vegas,madnis")
    parser.add_argument("--budget", type=int, default=1_000_000)
    parser.add_argument("--draws", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    command = shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv])
    path = RESULTS / "integrate.json"
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    rows = []
    for name in args.targets:
        target = get_target(name)
        for method in args.methods.split(","):
            for seed in range(args.seeds):
                if method == "vegas":
                    row = run_vegas(target, seed, args.budget, args.draws)
                elif method == "madnis":
                    row = run_madnis(target, seed, args.budget, args.draws)
                else:
                    row = run_physgen(target, method, seed, args.budget, args.draws)
                row.update(budget=args.budget, draws=args.draws, command=command)
                rows.append(row)
                print_table([row], COLUMNS)
                keys = ("target", "method", "seed", "budget")
                write_result("integrate", {"rows": replace_rows(old, rows, keys),
                                           "machine": machine()})  # fmt: skip
    print_table(rows, COLUMNS)


if __name__ == "__main__":
    main()
