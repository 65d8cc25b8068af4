"""Named standard Geant4 samples, simulated once into physgen's cache directory."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from physgen.calo.simulate import SimulationConfig
from physgen.core.cache import cache_dir
from physgen.core.errors import PhysgenInputError


@dataclass(frozen=True)
class SamplePreset:
    name: str
    description: str
    base: SimulationConfig
    # file name -> (number of showers, seed)
    files: dict

    def configs(self) -> dict[str, SimulationConfig]:
        return {
            name: replace(self.base, n_events=n, seed=seed)
            for name, (n, seed) in self.files.items()
        }

    def directory(self) -> Path:
        return cache_dir() / "samples" / self.name

    def path(self, file_name: str) -> Path:
        return self.directory() / f"{file_name}.h5"


PRESETS = {
    preset.name: preset
    for preset in (
        SamplePreset(
            "demo",
            "electrons in ds2, log-uniform 1-20 GeV: 1000 training and 500 reference showers "
            "(about 5 CPU-minutes)",
            SimulationConfig(
                geometry="ds2", particle="e-", energy_gev="1:20", spectrum="log-uniform"
            ),
            {"train": (1000, 101), "reference": (500, 102)},
        ),
        SamplePreset(
            "ds2-e-1-100GeV",
            "electrons in ds2, log-uniform 1-100 GeV: 10k training and 5k reference showers "
            "(about 2.5 CPU-hours; resumable)",
            SimulationConfig(
                geometry="ds2", particle="e-", energy_gev="1:100", spectrum="log-uniform"
            ),
            {"train": (10_000, 1001), "reference": (5_000, 1002)},
        ),
    )
}


def get_preset(name: str) -> SamplePreset:
    if name not in PRESETS:
        raise PhysgenInputError(f"unknown preset '{name}': use one of {', '.join(PRESETS)}")
    return PRESETS[name]
