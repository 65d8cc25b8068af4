"""The ``physgen`` command line: one sub-command group per domain."""

from __future__ import annotations

import click

from physgen import __version__
from physgen.calo.commands import calo
from physgen.emulate.commands import emulate
from physgen.integrate.commands import integrate
from physgen.jets.commands import jets
from physgen.lattice.commands import lattice
from physgen.nested.commands import nested


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="physgen")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="CPU threads for torch (default: OMP_NUM_THREADS or all cores). On a shared or "
    "busy machine 1 avoids oversubscription, which can slow training many-fold.",
)
def main(threads):
    """physgen: deep generative models for fundamental physics.

    Each domain has its own group of commands; run `physgen GROUP --help`.
    """
    if threads:
        import torch

        torch.set_num_threads(threads)


main.add_command(calo)
main.add_command(lattice)
main.add_command(jets)
main.add_command(nested)
main.add_command(emulate)
main.add_command(integrate)

if __name__ == "__main__":
    main()
