"""Symmetries of the L x L torus as site permutations (row-major site r * L + c), for
``models.symmetrized.PermutationAveraged``: the nearest-neighbour Ising and Potts energies are
invariant under all of them."""

from __future__ import annotations

import torch

__all__ = ["SYMMETRY_GROUPS", "torus_symmetries"]

SYMMETRY_GROUPS = ("none", "dihedral", "dihedral-half-shifts")


def _dihedral(grid: torch.Tensor) -> list[torch.Tensor]:
    """The 8 rotations and reflections of the square about site (0, 0) (indices mod L)."""
    L = grid.shape[0]
    reverse = (-torch.arange(L)) % L  # r -> -r: a reflection that keeps site 0 in place
    images = []
    for transposed in (grid, grid.T):
        for flip_rows in (False, True):
            for flip_cols in (False, True):
                image = transposed[reverse] if flip_rows else transposed
                images.append(image[:, reverse] if flip_cols else image)
    return images


def torus_symmetries(L: int, group: str) -> torch.Tensor:
    """(|G|, L * L) permutations: "none" (identity), "dihedral" (8), "dihedral-half-shifts"
    (the 8 times the 4 translations by 0 or L/2 along each axis: 32)."""
    if group not in SYMMETRY_GROUPS:
        raise ValueError(f"unknown symmetry group '{group}': {', '.join(SYMMETRY_GROUPS)}")
    grid = torch.arange(L * L).view(L, L)
    if group == "none":
        return grid.flatten()[None]
    images = _dihedral(grid)
    if group == "dihedral-half-shifts":
        shifts = [(0, 0), (0, L // 2), (L // 2, 0), (L // 2, L // 2)]
        images = [torch.roll(image, shift, dims=(0, 1)) for image in images for shift in shifts]
    return torch.stack([image.flatten() for image in images])
