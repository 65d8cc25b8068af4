"""Pythia 8 set-up of the jets domain: proton-proton collisions at 13 TeV, whole event records
per batch.

Records come from ``Pythia.nextBatch`` as awkward arrays (no per-particle Python loop); the
launcher and the per-chunk seeds are core.pythia's.
"""

from __future__ import annotations

from physgen.core.pythia import QUIET, chunk_seed, import_pythia
from physgen.core.pythia import make_pythia as _make_pythia

__all__ = ["import_pythia", "chunk_seed", "make_pythia", "generate_records", "QUIET"]

LHC_BEAMS = ("Beams:eCM = 13000.",)


def make_pythia(settings: tuple[str, ...], seed: int):
    """Pythia for proton-proton collisions at 13 TeV with ``settings``."""
    return _make_pythia((*LHC_BEAMS, *settings), seed)


def generate_records(settings: tuple[str, ...], seed: int, chunk: int, n_events: int):
    """Event records (awkward: ``prt`` particles, ``info``) of one chunk."""
    pythia = make_pythia(settings, chunk_seed(seed, chunk))
    return pythia.nextBatch(n_events)
