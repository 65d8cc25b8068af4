"""Checks every command makes on its outputs before any work starts: an existing output is
kept unless ``--overwrite`` is given, an output is never one of the inputs, and its folder
must be writable."""

from __future__ import annotations

import os
from pathlib import Path

from physgen.core.errors import PhysgenInputError

__all__ = ["check_output"]


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(path, overwrite: bool = False, inputs=(), option: str = "--out") -> Path:
    """``path`` if it may be written; a clear error otherwise. A folder output (plots,
    evaluations) counts as existing when it holds files."""
    path = Path(path)
    for given in inputs:
        if given is not None and (
            _same(path, Path(given)) or path.resolve() == Path(given).resolve()
        ):
            raise PhysgenInputError(
                f"{option} {path} is also an input ({given}): write the output elsewhere"
            )
    exists = path.is_file() or (path.is_dir() and any(path.iterdir()))
    if exists and not overwrite:
        raise PhysgenInputError(
            f"{option} {path} already exists; pass --overwrite to replace it or choose another path"
        )
    parent = path if path.is_dir() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PhysgenInputError(f"{option} {path}: cannot write in {parent} (permission denied)")
    return path
