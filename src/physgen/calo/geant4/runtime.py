"""Loading Geant4 (geant4-pybind) offline, with or without the Geant4 data sets.

The wheel asks for its data sets at import time. When the standard data-set variables
(G4LEDATA, G4ENSDFSTATEDATA, ...) point at existing directories, real data are used and a
standard physics list can run. Otherwise physgen points Geant4 at a private directory
holding an empty ENSDFSTATE.dat, which is all the data-free EM physics list needs.
"""

from __future__ import annotations

import os

from physgen.core.cache import cache_dir
from physgen.core.errors import MissingExtraError

# Data sets the standard EM and hadronic physics lists read.
STANDARD_DATA_VARIABLES = ("G4LEDATA", "G4ENSDFSTATEDATA", "G4PARTICLEXSDATA", "G4LEVELGAMMADATA")


def real_data_available() -> bool:
    """True when every standard Geant4 data-set variable points at an existing directory."""
    return all(os.path.isdir(os.environ.get(name, "")) for name in STANDARD_DATA_VARIABLES)


def _prepare_data_free_environment() -> None:
    stub = cache_dir() / "geant4-no-data"
    stub.mkdir(parents=True, exist_ok=True)
    # G4NuclideTable aborts unless it can open this file; an empty one is enough.
    (stub / "ENSDFSTATE.dat").touch()
    os.environ["GEANT4_DATA_DIR"] = str(stub)
    os.environ["G4ENSDFSTATEDATA"] = str(stub)


def import_geant4():
    """Import geant4_pybind, preparing the data environment first."""
    if not real_data_available():
        _prepare_data_free_environment()
    try:
        import geant4_pybind
    except ModuleNotFoundError:
        raise MissingExtraError("geant4", "geant4-pybind") from None
    return geant4_pybind


def geant4_version() -> str:
    g4 = import_geant4()
    return str(g4.G4Version).strip("$").replace("Name: ", "").strip()
