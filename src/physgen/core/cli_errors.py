"""Turn boundary errors into a one-paragraph message and a non-zero exit, never a traceback."""

from __future__ import annotations

import functools
import sys

import click

from physgen.core.errors import MissingExtraError, PhysgenInputError

EXIT_BAD_INPUT = 2


def friendly_errors(command):
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (PhysgenInputError, MissingExtraError) as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper
