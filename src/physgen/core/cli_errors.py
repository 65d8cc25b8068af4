"""Turn boundary errors into a one-paragraph message and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys

import click

from physgen.core.errors import MissingExtraError, PhysgenInputError, TrainingDiverged

EXIT_BAD_INPUT = 2

overwrite_option = click.option(
    "--overwrite", is_flag=True, help="Replace an existing output (refused otherwise)."
)


def friendly_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (PhysgenInputError, MissingExtraError, TrainingDiverged) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except OSError as err:  # a full disk, a read-only folder, a file that vanished
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            reason = err.strerror or str(err)
            click.echo(f"error: cannot read or write a file{where}: {reason}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper
