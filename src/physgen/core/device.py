"""Device choice: CPU first, CUDA when asked and present."""

from __future__ import annotations

import torch

from physgen.core.errors import PhysgenInputError


def resolve_device(name: str = "cpu") -> str:
    """'cpu', 'cuda', 'cuda:N' or 'auto' (CUDA when present); a clear error when CUDA is absent."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise PhysgenInputError(
            f"device '{name}' requested but CUDA is not available; use --device cpu"
        )
    if name != "cpu" and not name.startswith("cuda"):
        raise PhysgenInputError(f"unknown device '{name}': use cpu, cuda, cuda:N or auto")
    return name
