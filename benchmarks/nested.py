"""Nested sampling: physgen's proposals (normalizing flow, flow matching, random walk) against
dynesty and nessai, same problems, same live points and stopping rule, seeds 0..S-1, measured in
the same run.

    python benchmarks/nested.py [--problems shells:2,5,10,20 gaussian:8 lsbi:5] [--seeds 5]
        [--methods physgen-flow,physgen-flow-matching,physgen-rwalk,dynesty-auto,
                   dynesty-slice,nessai] [--live 500] [--result nested]

dynesty (3.1.0) and nessai (0.15.2) belong to the benchmark environment only (`pip install
dynesty==3.1.0 nessai==0.15.2 -c constraints.txt`). dynesty runs its static sampler with the
same number of live points and dlogz; "auto" is its default choice of bound and sampler,
"slice" its multivariate slice sampler; nessai its FlowSampler with default settings. Every row
records the problem, dimension, method, seed, log Z with its stated error, the exact log Z, the
likelihood calls and the wall time; rows go into benchmarks/results/NAME.json (a row replaces
the one of the same problem, dimension, method and seed).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table, replace_rows, write_result  # noqa: E402
from physgen.nested.problems import get_problem  # noqa: E402
from physgen.nested.sampler import NestedConfig, NestedSampler  # noqa: E402

COLUMNS = [
    "problem",
    "dim",
    "method",
    "seeds",
    "log_z_mean",
    "log_z_exact",
    "stated_err",
    "rms_error",
    "pull_mean",
    "pull_std",
    "calls_mean",
    "wall_s_mean",
]


def run_physgen(problem, proposal: str, seed: int, n_live: int, dlogz: float) -> dict:
    config = NestedConfig(n_live=n_live, proposal=proposal, seed=seed, dlogz=dlogz)
    result = NestedSampler(problem, config, progress=False).run()
    return {
        "log_z": result.log_z,
        "log_z_err": result.log_z_err,
        "likelihood_calls": result.likelihood_calls,
        "wall_s": result.wall_s,
        "iterations": result.iterations,
        "retrainings": result.retrainings,
        "unmoved_chains": result.unmoved_chains,
    }


def run_dynesty(problem, sample: str, seed: int, n_live: int, dlogz: float) -> dict:
    import dynesty

    def log_l(x):
        return float(problem.log_likelihood(x[None, :])[0])

    started = time.perf_counter()
    sampler = dynesty.NestedSampler(
        log_l,
        problem.prior_transform,
        problem.dim,
        nlive=n_live,
        sample=sample,
        rstate=np.random.default_rng(seed),
    )
    sampler.run_nested(dlogz=dlogz, print_progress=False)
    results = sampler.results
    return {
        "log_z": float(results.logz[-1]),
        "log_z_err": float(results.logzerr[-1]),
        "likelihood_calls": int(np.sum(results.ncall)),
        "wall_s": time.perf_counter() - started,
        "iterations": int(results.niter),
        "dynesty_version": dynesty.__version__,
    }


def run_nessai(problem, seed: int, n_live: int, dlogz: float) -> dict:
    """nessai's FlowSampler (standard nessai, not the importance sampler), its default flow
    proposal, the same live points and stopping criterion. Its prior is given by bounds: the
    uniform box of the problem, or for a Gaussian prior (lsbi) that prior truncated at 10
    sigma (a mass of 1e-23 left out)."""
    import tempfile

    import nessai
    from nessai.flowsampler import FlowSampler
    from nessai.livepoint import live_points_to_array
    from nessai.model import Model
    from scipy import stats

    names = [f"x{i}" for i in range(problem.dim)]
    gaussian_prior = problem.transform is not None
    lower = np.full(problem.dim, -10.0) if gaussian_prior else problem.lower
    upper = np.full(problem.dim, 10.0) if gaussian_prior else problem.upper

    class Wrapped(Model):
        def __init__(self):
            self.names = names
            self.bounds = {
                n: [float(lo), float(hi)] for n, lo, hi in zip(names, lower, upper, strict=True)
            }

        def log_prior(self, x):
            inside = np.log(self.in_bounds(x), dtype="float")
            theta = live_points_to_array(x, self.names).reshape(-1, problem.dim)
            if gaussian_prior:
                return inside + stats.norm.logpdf(theta).sum(1)
            return inside - np.sum(np.log(upper - lower))

        def log_likelihood(self, x):
            theta = live_points_to_array(x, self.names).reshape(-1, problem.dim)
            values = problem.log_likelihood(theta)
            return values if np.ndim(x) else values[0]

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as output:
        sampler = FlowSampler(
            Wrapped(),
            output=output,
            nlive=n_live,
            seed=seed,
            stopping=dlogz,
            resume=False,
            checkpointing=False,
            plot=False,
        )
        sampler.run(plot=False, save=False)
    return {
        "log_z": float(sampler.log_evidence),
        "log_z_err": float(sampler.log_evidence_error),
        "likelihood_calls": int(sampler.ns.total_likelihood_evaluations),
        "wall_s": time.perf_counter() - started,
        "nessai_version": nessai.__version__,
    }


METHODS = {
    "physgen-flow": lambda p, s, n, d: run_physgen(p, "flow", s, n, d),
    "physgen-flow-matching": lambda p, s, n, d: run_physgen(p, "flow-matching", s, n, d),
    "physgen-rwalk": lambda p, s, n, d: run_physgen(p, "rwalk", s, n, d),
    "dynesty-auto": lambda p, s, n, d: run_dynesty(p, "auto", s, n, d),
    "dynesty-slice": lambda p, s, n, d: run_dynesty(p, "slice", s, n, d),
    "nessai": run_nessai,
}


def summary(rows: list[dict]) -> list[dict]:
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["problem"], row["dim"], row["method"]), []).append(row)
    table = []
    for (problem, dim, method), group in sorted(groups.items()):
        pulls = np.array([r["pull"] for r in group])
        table.append(
            {
                "problem": problem,
                "dim": dim,
                "method": method,
                "seeds": len(group),
                "log_z_mean": float(np.mean([r["log_z"] for r in group])),
                "log_z_exact": group[0]["log_z_exact"],
                "stated_err": float(np.mean([r["log_z_err"] for r in group])),
                "rms_error": float(
                    np.sqrt(np.mean([(r["log_z"] - r["log_z_exact"]) ** 2 for r in group]))
                ),
                "pull_mean": float(pulls.mean()),
                "pull_std": float(pulls.std(ddof=1)) if len(pulls) > 1 else float("nan"),
                "max_abs_pull": float(np.abs(pulls).max()),
                "calls_mean": float(np.mean([r["likelihood_calls"] for r in group])),
                "wall_s_mean": float(np.mean([r["wall_s"] for r in group])),
            }
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", nargs="+", default=["shells:2,5,10,20", "gaussian:8"])
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--live", type=int, default=500)
    parser.add_argument("--dlogz", type=float, default=0.1)
    parser.add_argument("--result", default="nested", help="benchmarks/results/NAME.json")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    command = shlex.join(["python", "benchmarks/nested.py", *sys.argv[1:]])
    rows = []
    for spec in args.problems:
        name, dims = spec.split(":")
        for dim in map(int, dims.split(",")):
            problem = get_problem(name, dim)
            for method in args.methods.split(","):
                for seed in range(args.seeds):
                    measured = METHODS[method](problem, seed, args.live, args.dlogz)
                    row = {
                        "problem": name,
                        "dim": dim,
                        "method": method,
                        "seed": seed,
                        **measured,
                        "log_z_exact": problem.log_z_exact,
                        "pull": (measured["log_z"] - problem.log_z_exact) / measured["log_z_err"],
                        "n_live": args.live,
                        "dlogz": args.dlogz,
                        "command": command,
                    }
                    print(
                        f"{name} d={dim} {method} seed {seed}: log Z {row['log_z']:.3f} +- "
                        f"{row['log_z_err']:.3f} (exact {row['log_z_exact']:.3f}), "
                        f"{row['likelihood_calls']} calls, {row['wall_s']:.1f} s",
                        flush=True,
                    )
                    rows.append(row)
                    existing = replace_rows(
                        _existing(args.result), [row], ("problem", "dim", "method", "seed")
                    )
                    write_result(
                        args.result,
                        {"machine": machine(), "rows": existing, "summary": summary(existing)},
                    )
    print_table(summary(rows), COLUMNS)


def _existing(name: str) -> list[dict]:
    import json

    path = RESULTS / f"{name}.json"
    if not path.exists():
        return []
    return json.loads(path.read_text()).get("rows", [])


if __name__ == "__main__":
    main()
