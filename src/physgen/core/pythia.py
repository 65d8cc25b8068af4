"""Pythia 8 launcher shared by the domains that generate events (jets, emulate): the import
with a clear message when the extra is missing, quiet output, and per-chunk seeds.

Every chunk of events gets its own generator seeded from (seed, chunk index), so a chunk
generated alone equals the same chunk in a longer run.
"""

from __future__ import annotations

import numpy as np

from physgen.core.errors import MissingExtraError

__all__ = ["import_pythia", "chunk_seed", "make_pythia", "QUIET"]

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
    """An initialised Pythia with ``settings`` (beams included) and the given seed."""
    pythia8mc = import_pythia()
    pythia = pythia8mc.Pythia("", False)
    for line in (*QUIET, "Random:setSeed = on", f"Random:seed = {seed}"):
        pythia.readString(line)
    for line in settings:
        if not pythia.readString(line):
            raise ValueError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise with {settings}")
    return pythia
