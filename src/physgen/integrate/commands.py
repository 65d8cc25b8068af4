"""``physgen integrate ...`` command group."""

from __future__ import annotations

import json
from pathlib import Path

import click

from physgen.core.cli_errors import friendly_errors


@click.group()
def integrate():
    """Flows that sample and integrate known densities (FAB, neural importance sampling)."""


@integrate.command()
@click.option(
    "--target",
    "target_name",
    required=True,
    help="gmm-40, many-well-32, funnel, gaussian, or FILE.py:FUNCTION (a torch log-density "
    "with `bounds` in the file; docs/integrate.md).",
)
@click.option(
    "--method",
    type=click.Choice(["fab", "reverse-kl", "nis"]),
    help="fab (AIS + HMC towards p^2/q, replay buffer; default), reverse-kl, nis "
    "(forward KL on importance-weighted flow draws).",
)
@click.option("--budget", type=click.IntRange(min=1), help="Target evaluations for training.")
@click.option("--batch-size", type=click.IntRange(min=2))
@click.option("--seed", type=click.IntRange(min=0))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML/TOML with the flow's settings (integrate.sampler.DensityFlowConfig).",
)
@click.option("--out", required=True, type=click.Path(path_type=Path))
@click.option("--resume", is_flag=True, help="Continue a killed training from its checkpoint.")
@friendly_errors
def train(target_name, method, budget, batch_size, seed, config_path, out, resume):
    """Train a flow towards a target density."""
    from physgen.integrate.runs import train_run

    record = train_run(
        target_name,
        out,
        config_path,
        resume,
        method=method,
        budget=budget,
        batch_size=batch_size,
        seed=seed,
    )
    click.echo(
        f"trained in {record['seconds']:.1f} s with {record['target_evaluations']} target "
        f"evaluations -> {out}"
    )


@integrate.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--n", "n_draws", default=100_000, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@friendly_errors
def estimate(run_dir, n_draws, seed):
    """log Z with its error, ESS / N and unweighting efficiency (RUN/estimate.json, a report)."""
    from physgen.integrate.runs import estimate_run

    click.echo(json.dumps(estimate_run(run_dir, n_draws, seed), indent=2))


@integrate.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--n", "n_events", required=True, type=click.IntRange(min=1))
@click.option("--unweighted", is_flag=True, help="Unit-weight events by rejection.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Events HDF5.")
@friendly_errors
def sample(run_dir, n_events, unweighted, seed, out):
    """Events from the trained flow: weighted, or unweighted with --unweighted."""
    from physgen.integrate.runs import sample_run

    summary = sample_run(run_dir, n_events, out, unweighted, seed)
    click.echo(json.dumps({k: v for k, v in summary.items()}, indent=2, default=float))
