"""``physgen lattice ...`` command group."""

from __future__ import annotations

import json

import click

from physgen.core.cli_errors import friendly_errors

MODELS = ("ising2d", "ising3d", "potts", "z2gauge")


@click.group()
def lattice():
    """Lattice spin systems: exact references and neural samplers."""


@lattice.command()
@click.option("--model", default="ising2d", show_default=True, type=click.Choice(MODELS))
@click.option("--L", "size", required=True, type=int, help="Linear lattice size.")
@click.option("--beta", required=True, type=float, help="Inverse temperature (J = 1).")
@click.option("--q", default=3, show_default=True, type=int, help="Potts states.")
@click.option("--mi", is_flag=True,
              help="Also the mutual information between the two L x L/2 halves of the torus "
                   "(ising2d, transfer matrix, L <= 14).")
@friendly_errors
def exact(model, size, beta, q, mi):
    """Print exact ln Z, free energy per site (and mutual information) as JSON."""
    from physgen.lattice.exact_cli import exact_summary

    click.echo(json.dumps(exact_summary(model, size, beta, q, mi), indent=2))
