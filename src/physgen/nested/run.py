"""``physgen nested run``: a nested-sampling run folder (core.run protocol): run.json, the
checkpoint (resume after a kill), result.json, the chains and report.html."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.nested.outputs import write_chains, write_report
from physgen.nested.problems import Problem
from physgen.nested.sampler import NestedConfig, NestedSampler

__all__ = ["run_nested"]

RESULT = "result.json"


def run_nested(
    problem: Problem, config: NestedConfig, out_dir, resume=False, progress=True, log=print
) -> dict:
    out_dir = Path(out_dir)
    if (out_dir / RESULT).exists():
        raise PhysgenInputError(f"{out_dir} already holds a finished run; choose another --out")
    if not resume and (out_dir / "checkpoint").exists():
        raise PhysgenInputError(
            f"{out_dir} holds an unfinished run: pass --resume to continue it, or another --out"
        )
    run = Run(out_dir, resume, progress)
    run.start(config, config.seed, problem=problem.name, dim=problem.dim)
    sampler = NestedSampler(problem, config, out_dir, progress)
    found = sampler.run(resume=resume)
    result = {"problem": problem.name, "dim": problem.dim, **asdict(found)}
    if problem.exact_method:
        result["log_z_exact_method"] = problem.exact_method
    theta, log_l, birth, log_weights = sampler.samples()
    chains = write_chains(
        out_dir / "chains", problem.name, problem.parameter_names, theta, log_l, birth, log_weights
    )
    result["chains"] = str(chains)
    write_json_atomic(out_dir / RESULT, result)
    write_report(
        out_dir / "report.html",
        f"nested sampling: {problem.name}, d = {problem.dim}",
        result,
        sampler.arrays["trace"],
        theta,
        log_weights,
        problem.parameter_names,
    )
    exact = "" if found.log_z_exact is None else f" (exact {found.log_z_exact:.3f})"
    log(
        f"log Z = {found.log_z:.3f} +- {found.log_z_err:.3f}{exact}, {found.likelihood_calls} "
        f"likelihood calls, {found.iterations} iterations; {out_dir / RESULT}, "
        f"{out_dir / 'report.html'}"
    )
    return result
