"""``physgen nested ...`` command group."""

from __future__ import annotations

from pathlib import Path

import click

from physgen.core.cli_errors import friendly_errors

PROBLEM_NAMES = ("gaussian", "shells", "rosenbrock", "lsbi")


@click.group()
def nested():
    """Nested sampling with generative proposals: evidences and posteriors."""


@nested.command()
@click.option(
    "--problem",
    type=click.Choice(PROBLEM_NAMES),
    help="A built-in problem with a known evidence (or --likelihood).",
)
@click.option(
    "--likelihood",
    "likelihood_file",
    type=click.Path(path_type=Path),
    help="A Python file defining log_likelihood(theta) for (n, dim) arrays and bounds = "
    "[(low, high), ...] of a uniform prior (optionally log_z_exact, names).",
)
@click.option("--dim", type=click.IntRange(min=1), help="Dimensions (built-in problems).")
@click.option("--live", "n_live", default=500, show_default=True, type=click.IntRange(min=10))
@click.option(
    "--proposal",
    default="flow",
    show_default=True,
    type=click.Choice(["flow", "flow-matching", "rwalk"]),
    help="flow: a normalizing flow trained on the live points; flow-matching: a "
    "flow-matching (diffusion-family) model; both by rejection to uniform, then Metropolis-"
    "Hastings chains when that keeps too little, a random walk when both collapse; rwalk: "
    "constrained random walks only.",
)
@click.option(
    "--dlogz",
    default=0.1,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Stop when the live points could add less than this to log Z.",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML/TOML with sampler settings (nested.sampler.NestedConfig).",
)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue the run's checkpoint after a kill.")
@friendly_errors
def run(problem, likelihood_file, dim, n_live, proposal, dlogz, seed, config_path, out_dir, resume):
    """Estimate the evidence and posterior of a problem by nested sampling."""
    from physgen.core.config import load_config
    from physgen.core.errors import PhysgenInputError
    from physgen.nested.problems import get_problem, problem_from_file
    from physgen.nested.run import run_nested
    from physgen.nested.sampler import NestedConfig

    if (problem is None) == (likelihood_file is None):
        raise PhysgenInputError("give one of --problem NAME or --likelihood FILE.py")
    if problem is not None:
        if dim is None:
            raise PhysgenInputError("give --dim with --problem")
        chosen = get_problem(problem, dim)
    else:
        chosen = problem_from_file(likelihood_file, dim)
    overrides = {"n_live": n_live, "proposal": proposal, "dlogz": dlogz, "seed": seed}
    config = load_config(NestedConfig, config_path, overrides)
    run_nested(chosen, config, out_dir, resume, log=lambda m: click.echo(m, err=True))
