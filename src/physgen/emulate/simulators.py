"""The simulators ``physgen emulate`` knows, by name, with their settings from KEY=VALUE
options (checked against each simulator's settings dataclass)."""

from __future__ import annotations

import importlib

from physgen.core.config import from_dict
from physgen.core.errors import PhysgenInputError
from physgen.emulate.simulator import Simulator

__all__ = ["SIMULATORS", "get_simulator", "parse_options"]

SIMULATORS = {
    "ishigami": "physgen.emulate.analytic:Ishigami",
    "linear-gaussian": "physgen.emulate.analytic:LinearGaussian",
    "pythia-tune": "physgen.emulate.pythia_tune:PythiaTune",
    "geant4-response": "physgen.emulate.geant4_response:Geant4Response",
}


def parse_options(options) -> dict:
    """("events=2000", ...) -> {"events": "2000"} (values converted by the settings class)."""
    parsed = {}
    for option in options or ():
        key, sep, value = option.partition("=")
        if not sep or not key.strip():
            raise PhysgenInputError(f"simulator option {option!r}: write it as KEY=VALUE")
        parsed[key.strip()] = value.strip()
    return parsed


def get_simulator(name: str, settings: dict | None = None) -> Simulator:
    if name not in SIMULATORS:
        raise PhysgenInputError(f"unknown simulator '{name}': use one of {', '.join(SIMULATORS)}")
    module, _, cls = SIMULATORS[name].partition(":")
    simulator_class = getattr(importlib.import_module(module), cls)
    return simulator_class(from_dict(simulator_class.settings_class, settings or {}, name))
