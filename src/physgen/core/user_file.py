"""A user's Python file (a likelihood, a target density) loaded as a module, with the error a
user can act on when it is missing or does not run."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from physgen.core.errors import PhysgenInputError

__all__ = ["load_user_module"]


def load_user_module(path, kind: str) -> ModuleType:
    """The module of the Python file ``path``; ``kind`` names it in errors ("likelihood")."""
    path = Path(path)
    if not path.is_file():
        raise PhysgenInputError(f"{path}: no such {kind} file")
    spec = importlib.util.spec_from_file_location(f"physgen_user_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise PhysgenInputError(f"{path}: cannot run it ({type(err).__name__}: {err})") from None
    return module
