"""physgen's cache directory: standard samples, cached reference features, helper files."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$PHYSGEN_CACHE``, else ``$XDG_CACHE_HOME/physgen``, else ``~/.cache/physgen``."""
    root = os.environ.get("PHYSGEN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "physgen"
    )
    return Path(root)
