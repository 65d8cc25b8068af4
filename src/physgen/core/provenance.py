"""What a run directory records about the software that made it."""

from __future__ import annotations

import platform

import torch

from physgen import __version__

__all__ = ["software_versions"]


def software_versions() -> dict:
    return {"physgen": __version__, "torch": torch.__version__, "python": platform.python_version()}
