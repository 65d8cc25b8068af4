"""Emulation by committee: test RMSE vs simulator calls for committee, LHS and grid on
ishigami, pythia-tune and geant4-response, and the pythia-tune fit of hidden parameters.

Every strategy of a simulator shares one simulation cache and one held-out test set (Sobol,
test_seed 99); RMSE is in units of each summary's spread over the test set, with the floor a
perfect emulator would see from the test calls' own noise. The committee target: the calls
the committee needs to reach LHS's error at LHS's largest budget, as a fraction of that
budget (from the committee's curve, first round at or below it).

    python benchmarks/emulate.py --simulators ishigami pythia-tune geant4-response
    python benchmarks/emulate.py --plot docs/emulate_error_vs_calls.png  # from the results
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

from _common import machine, merge_result, replace_rows
from physgen.emulate.fit_run import fit_run
from physgen.emulate.loop import LearnConfig, learn
from physgen.emulate.observe import observe
from physgen.emulate.report import plot_curves
from physgen.emulate.simulators import get_simulator
from physgen.models.committee import CommitteeConfig

RUNS = Path(__file__).resolve().parent / "runs" / "emulate"
RESULTS = Path(__file__).resolve().parent / "results" / "emulate.json"
CASES = {
    "ishigami": {
        "settings": {},
        "lhs": (50, 100, 200, 400),
        "grid": (64, 343),
        "committee": {"budget": 400, "initial": 40, "batch": 20},
        "test_points": 1000,
    },
    "pythia-tune": {
        "settings": {"events": 5000},
        "lhs": (20, 40, 80),
        "grid": (27, 64),
        "committee": {"budget": 80, "initial": 20, "batch": 10},
        "test_points": 50,
        # hidden truth, never a training point; observed with 4x the events of a call
        "truth": "0.55,1.15,0.13",
        "observed_settings": {"events": 20000},
    },
    "geant4-response": {
        "settings": {"showers": 10},
        "lhs": (10, 20, 40),
        "grid": (9, 16, 36),
        "committee": {"budget": 40, "initial": 10, "batch": 5},
        "test_points": 20,
    },
}


def _design(name, strategy) -> dict:
    """What a row's learning run was given besides the budget: test points, committee rounds."""
    case = CASES[name]
    design = {"test_points": case["test_points"], "test_seed": LearnConfig().test_seed}
    if strategy.startswith("committee"):
        design.update(initial=case["committee"]["initial"], batch=case["committee"]["batch"])
        design["committee"] = "dropout" if strategy.endswith("dropout") else "ensemble"
        design["members"] = LearnConfig().committee.members
    return design


def _row(simulator, strategy, record, seed, command):
    return {
        "design": _design(simulator.name, strategy),
        "simulator": simulator.name,
        "settings": simulator.describe()["settings"],
        "strategy": strategy,
        "calls": record["calls"],
        "rmse": record["rmse"],
        "noise_floor": record["curve"][-1]["noise_floor"],
        "curve": [(c["calls"], c["rmse"]) for c in record["curve"]],
        "fit_bias_sigma": None,
        "wall_s": record["wall_s"],
        "simulator_s": record["curve"][-1]["simulator_s"],
        "seed": seed,
        "command": command,
    }


def _calls_to_reach(curve, target):
    for calls, rmse in curve:
        if rmse <= target:
            return calls
    return None


STRATEGIES = ("lhs", "grid", "committee", "committee-dropout")


def run_case(name, seed, command, log, strategies=STRATEGIES):
    """New result rows of ``strategies`` on simulator ``name``."""
    case = CASES[name]
    simulator = get_simulator(name, case["settings"])
    folder = RUNS / name
    cache = folder / "cache"
    rows = []
    plans = [("lhs", b, {}) for b in case["lhs"]] + [("grid", b, {}) for b in case["grid"]]
    plans.append(("committee", case["committee"]["budget"], case["committee"]))
    plans.append(("committee-dropout", case["committee"]["budget"], case["committee"]))
    for strategy, budget, extra in plans:
        if strategy not in strategies:
            continue
        out = folder / f"{strategy}-{budget}-seed{seed}"
        config = LearnConfig(
            strategy="committee" if strategy.startswith("committee") else strategy,
            budget=budget,
            initial=extra.get("initial", 0),
            batch=extra.get("batch", 0),
            test_points=case["test_points"],
            seed=seed,
            committee=CommitteeConfig(
                kind="dropout" if strategy.endswith("dropout") else "ensemble"
            ),
        )
        record = learn(simulator, config, out, resume=out.exists(), cache=cache, log=log)
        rows.append(_row(simulator, strategy, record, seed, command))
        print(f"{name:16s} {strategy:17s} {record['calls']:5d} calls  RMSE {record['rmse']:.4f}")
    if "truth" in case and "committee" in strategies:
        committee = next(r for r in rows if r["strategy"] == "committee")
        rows.append(fit_case(name, case, committee, folder, seed, command))
    return rows


def targets(name, rows, seed):
    """Calls each committee needs to reach LHS's error at its largest budget (``seed``)."""
    rows = [r for r in rows if r["seed"] == seed]
    lhs = [r for r in rows if r["strategy"] == "lhs"]
    if not lhs:
        return {}
    lhs_final = max(lhs, key=lambda r: r["calls"])
    result = {}
    for committee in (r for r in rows if r["strategy"] in STRATEGIES[2:]):
        reach = _calls_to_reach(committee["curve"], lhs_final["rmse"])
        result[committee["strategy"]] = {
            "simulator": name,
            "lhs_calls": lhs_final["calls"],
            "lhs_rmse": lhs_final["rmse"],
            "committee_calls_to_reach": reach,
            "fraction_of_lhs_calls": None if reach is None else reach / lhs_final["calls"],
            "target_at_most_half": None if reach is None else reach <= lhs_final["calls"] / 2,
            "seed": seed,
        }
    return result


def fit_case(name, case, committee_row, folder, seed, command):
    observed_sim = get_simulator(name, case["observed_settings"])
    observation = folder / f"observed-seed{seed}.json"
    if not observation.exists():
        observe(observed_sim, case["truth"], 777 + seed, observation)
    run_dir = folder / f"committee-{committee_row['calls']}-seed{seed}"
    started = time.perf_counter()
    summary = fit_run(run_dir, observation, folder / f"fit-seed{seed}", overwrite=True, seed=seed)
    pulls = {k: v["pull"] for k, v in summary["parameters"].items()}
    return {
        "simulator": name,
        "strategy": "committee-fit",
        "calls": committee_row["calls"],
        "rmse": None,
        "fit_bias_sigma": pulls,
        "max_abs_pull": max(abs(p) for p in pulls.values()),
        "posterior": summary["parameters"],
        "truth": case["truth"],
        "observed_events": case["observed_settings"]["events"],
        "fit_s": summary["fit_s"],
        "emulator_evaluations": summary["emulator_evaluations"],
        "direct_fit_s_extrapolated": summary["direct_fit_s_extrapolated"],
        "speedup_vs_direct": summary["direct_fit_s_extrapolated"] / summary["fit_s"],
        "wall_s": time.perf_counter() - started,
        "seed": seed,
        "command": command,
    }


def plot_results(out):
    """The RMSE-vs-calls figure of benchmarks/results/emulate.json."""
    results = json.loads(RESULTS.read_text())
    curves = {}
    for simulator in CASES:
        by_strategy: dict = {}
        for row in results.get(simulator, {}).get("rows", []):
            if row["strategy"] in STRATEGIES and row["seed"] == 0:
                points = [(c, r, row["noise_floor"]) for c, r in row["curve"]]
                by_strategy.setdefault(row["strategy"], []).extend(points)
        if by_strategy:
            curves[simulator] = {k: sorted(v) for k, v in by_strategy.items()}
    plot_curves(curves).savefig(out, dpi=80)
    print(f"wrote {out}")


def markdown_tables():
    """The tables of docs/benchmarks.md from the saved results: test RMSE per strategy and
    calls, every seed; the committee targets per seed."""
    results = json.loads(RESULTS.read_text())
    print("| simulator | strategy | seed | calls: test RMSE (committee: after each round) |")
    print("|---|---|---|---|")
    for simulator in CASES:
        rows = [
            r for r in results.get(simulator, {}).get("rows", []) if r["strategy"] in STRATEGIES
        ]
        for strategy in STRATEGIES:
            for seed in sorted({r["seed"] for r in rows}):
                chosen = sorted(
                    (r for r in rows if r["strategy"] == strategy and r["seed"] == seed),
                    key=lambda r: r["calls"],
                )
                if not chosen:
                    continue
                points = [p for r in chosen for p in r["curve"]]
                text = ", ".join(f"{c}: {e:.3g}" for c, e in points)
                print(f"| {simulator} | {strategy} | {seed} | {text} |")
    print()
    print(
        "| simulator | committee | seed | LHS calls | LHS RMSE | committee calls to reach it "
        "| fraction | at most half |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for simulator in CASES:
        for seed, by_kind in sorted(results.get(simulator, {}).get("targets", {}).items()):
            for kind, t in by_kind.items():
                reach = t["committee_calls_to_reach"]
                fraction = "-" if reach is None else f"{t['fraction_of_lhs_calls']:.3g}"
                print(
                    f"| {simulator} | {kind} | {seed} | {t['lhs_calls']} | {t['lhs_rmse']:.3g} | "
                    f"{reach if reach is not None else 'not reached'} | {fraction} | "
                    f"{t['target_at_most_half'] if reach is not None else 'no'} |"
                )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--simulators", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--plot", type=Path, help="Only draw the figure of the saved results.")
    parser.add_argument("--table", action="store_true", help="Only print the docs' tables.")
    args = parser.parse_args()
    if args.plot:
        return plot_results(args.plot)
    if args.table:
        return markdown_tables()
    command = shlex.join([sys.executable.rsplit("/", 1)[-1], *sys.argv])
    for name in args.simulators:
        new = run_case(name, args.seed, command, lambda m: print("  " + m), args.strategies)
        old = json.loads(RESULTS.read_text()).get(name, {}) if RESULTS.exists() else {}
        rows = replace_rows(old.get("rows", []), new, ("strategy", "calls", "seed"))
        by_seed = {**old.get("targets", {}), str(args.seed): targets(name, rows, args.seed)}
        entry = {"rows": rows, "targets": by_seed, "machine": machine()}
        merge_result("emulate", {name: entry})
        print(json.dumps(by_seed[str(args.seed)], indent=1))


if __name__ == "__main__":
    main()
