"""The ``physgen`` command line: one sub-command group per domain."""

from __future__ import annotations

import click

from physgen import __version__
from physgen.calo.commands import calo
from physgen.lattice.commands import lattice


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="physgen")
def main():
    """physgen: deep generative models for fundamental physics.

    Each domain has its own group of commands; run `physgen GROUP --help`.
    """


main.add_command(calo)
main.add_command(lattice)

if __name__ == "__main__":
    main()
