"""Pythia 8 set-up: proton-proton collisions at 13 TeV, whole event records per batch.

Records come from ``Pythia.nextBatch`` as awkward arrays (no per-particle Python loop).
Every chunk of events gets its own generator seeded from (seed, chunk index), so a chunk
simulated alone equals the same chunk in a longer run.
"""

from __future__ import annotations

import numpy as np

from physgen.core.errors import MissingExtraError

__all__ = ["import_pythia", "chunk_seed", "make_pythia", "generate_records", "QUIET"]

QUIET = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Init:showChangedSettings = off",
    "Init:showProcesses = off",
)
_MAX_PYTHIA_SEED = 900_000_000


def import_pythia():
    try:
        import pythia8mc
    except ImportError as err:
        raise MissingExtraError("pythia", "pythia8mc") from err
    return pythia8mc


def chunk_seed(seed: int, chunk: int) -> int:
    """A Pythia seed (1..9e8) for chunk ``chunk`` of a run with ``seed``."""
    state = np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1, np.uint64)[0]
    return int(state % _MAX_PYTHIA_SEED) + 1


def make_pythia(settings: tuple[str, ...], seed: int):
    pythia8mc = import_pythia()
    pythia = pythia8mc.Pythia("", False)
    for line in (*QUIET, "Beams:eCM = 13000.", "Random:setSeed = on", f"Random:seed = {seed}"):
        pythia.readString(line)
    for line in settings:
        if not pythia.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with {settings}")
    return pythia


def generate_records(settings: tuple[str, ...], seed: int, chunk: int, n_events: int):
    """Event records (awkward: ``prt`` particles, ``info``) of one chunk."""
    pythia = make_pythia(settings, chunk_seed(seed, chunk))
    return pythia.nextBatch(n_events)
