"""Selections on Pythia event records (awkward arrays with fields id, status, p, ...)."""

from __future__ import annotations

import awkward as ak
import numpy as np

__all__ = ["final_state", "parton_level", "parton_level_mask", "momenta", "has_abs_id"]

_NEUTRINOS = (12, 14, 16)


def has_abs_id(particles, ids) -> ak.Array:
    """Per-particle mask: |id| is one of ``ids``."""
    flat = np.isin(np.abs(ak.to_numpy(ak.flatten(particles.id))), ids)
    return ak.unflatten(flat, ak.num(particles))


def final_state(particles):
    """Stable visible particles: status > 0, neutrinos removed."""
    return particles[(particles.status > 0) & ~has_abs_id(particles, _NEUTRINOS)]


def parton_level(particles):
    """Partons as they are right before hadronisation (Pythia's isFinalPartonLevel)."""
    return particles[parton_level_mask(particles)]


def parton_level_mask(particles):
    """Per-particle mask of ``parton_level``.

    The hadronisation block starts at the first entry with |status| in 71..89; before it,
    keep the final partons and those whose daughters lie in that block.
    """
    index = ak.local_index(particles)
    status = abs(particles.status)
    hadronising = (status >= 71) & (status <= 89)
    boundary = ak.fill_none(ak.firsts(index[hadronising]), 0)
    boundary = ak.where(boundary == 0, ak.num(particles), boundary)
    return (
        (index > 0)
        & (index < boundary)
        & ((particles.status > 0) | (particles.daughter1 >= boundary))
    )


def momenta(particles):
    """(px, py, pz, E) of each particle."""
    return particles.p.px, particles.p.py, particles.p.pz, particles.p.e
