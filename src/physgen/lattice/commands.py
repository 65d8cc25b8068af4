"""``physgen lattice ...`` command group."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click

from physgen.core.cli_errors import friendly_errors

MODELS = ("ising2d", "ising3d", "potts", "z2gauge")


class _FinitePositive(click.ParamType):
    name = "number"

    def convert(self, value, param, ctx):
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number) or number <= 0:
            self.fail(f"{value!r} must be a finite positive number", param, ctx)
        return number


_FINITE_POSITIVE = _FinitePositive()


@click.group()
def lattice():
    """Lattice spin systems: exact references and neural samplers."""


@lattice.command()
@click.option("--model", default="ising2d", show_default=True, type=click.Choice(MODELS))
@click.option("--L", "size", required=True, type=click.IntRange(min=2), help="Linear lattice size.")
@click.option("--beta", required=True, type=_FINITE_POSITIVE, help="Inverse temperature (J = 1).")
@click.option("--q", default=3, show_default=True, type=int, help="Potts states.")
@click.option(
    "--mi",
    is_flag=True,
    help="Also the mutual information between the two L x L/2 halves of the torus "
    "(ising2d, transfer matrix, L <= 14).",
)
@friendly_errors
def exact(model, size, beta, q, mi):
    """Print exact ln Z, free energy per site (and mutual information) as JSON."""
    from physgen.lattice.exact_cli import exact_summary

    click.echo(json.dumps(exact_summary(model, size, beta, q, mi), indent=2))


@lattice.command()
@click.option(
    "--model",
    default=None,
    type=click.Choice(["ising2d", "potts", "tfim-chain"]),
    help="Default: the config's 'lattice', else ising2d. tfim-chain: the transverse-field Ising "
    "ring in its classical (Suzuki-Trotter) form.",
)
@click.option(
    "--L", "size", required=True, type=int, help="Linear lattice size (tfim-chain: ring sites)."
)
@click.option(
    "--beta",
    required=True,
    type=float,
    help="Inverse temperature (J = 1); tfim-chain: the quantum one, slices = beta / trotter step.",
)
@click.option("--q", type=int, help="Potts states (default 3).")
@click.option("--trotter-step", type=float, help="tfim-chain: imaginary-time step (default 0.25).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="YAML/TOML with sampler settings (network, depth, width, steps, ...).",
)
@click.option("--steps", type=click.IntRange(min=1), help="Override the number of training steps.")
@click.option("--batch-size", type=click.IntRange(min=2), help="Override the samples per step.")
@click.option(
    "--out", "run_dir", required=True, type=click.Path(path_type=Path), help="Run directory."
)
@click.option("--resume", is_flag=True, help="Continue from the run's checkpoint.")
@click.option("--device", help="cpu, cuda or auto (default: the config's, else cpu).")
@friendly_errors
def train(
    model, size, beta, q, trotter_step, config_path, steps, batch_size, run_dir, resume, device
):
    """Train a variational autoregressive sampler (reverse KL) for a lattice model."""
    from physgen.lattice.variational import train_run

    history = train_run(
        config_path,
        run_dir,
        {
            "lattice": model,
            "L": size,
            "beta": beta,
            "q": q if q is not None or model != "potts" else 3,
            "batch_size": batch_size,
            "trotter_step": trotter_step,
            "optimizer.steps": steps,
            "optimizer.device": device,
        },
        resume,
        log=lambda m: click.echo(m, err=True),
    )
    click.echo(
        f"trained {history['steps']} steps in {history['seconds']:.0f} s; "
        f"sampler saved to {Path(run_dir) / 'model.pt'}"
    )


@lattice.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--observables",
    default="free-energy,energy",
    show_default=True,
    help="Comma list of free-energy, energy, nmcmc, mi (ising2d), renyi2 (tfim-chain).",
)
@click.option("--samples", default=100_000, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--mi-conditional",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "exact", "neural"]),
    help="mi: conditional partition functions by transfer matrix (L <= 12) or by a conditional "
    "strip sampler trained once and kept in RUN_DIR (auto: exact where it reaches).",
)
@click.option(
    "--symmetrize",
    default="none",
    show_default=True,
    type=click.Choice(["none", "dihedral", "dihedral-half-shifts"]),
    help="Average the sampler over symmetries of the square torus (8 or 32 site permutations; "
    "as many log q evaluations per sample): exact, and a better proposal for reweighting.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or auto.")
@friendly_errors
def estimate(run_dir, observables, samples, seed, mi_conditional, symmetrize, device):
    """Estimate observables with a trained sampler: neural importance sampling and neural MCMC.

    Prints JSON; with the exact answer beside it where one is known (2D Ising, Kaufman)."""
    from physgen.lattice.estimate_run import estimate_run

    result = estimate_run(
        run_dir, observables.split(","), samples, seed, mi_conditional, symmetrize, device
    )
    click.echo(json.dumps(result, indent=2))
