"""Physics checks of the Geant4 reference simulator, each run in a fresh worker process
(a process holds one Geant4 run manager, with one detector)."""

from __future__ import annotations

import multiprocessing

import numpy as np

from physgen.calo.simulate import SimulationConfig, _simulate_chunk


def _block_deposit(energy_gev: float, n_events: int, seed: int, thickness_mm: float) -> float:
    from physgen.calo.geant4.detector import build_tungsten_block
    from physgen.calo.geant4.engine import Geant4Engine, event_seeds

    deposits = [0.0]
    engine = Geant4Engine(
        build_tungsten_block(thickness_mm, 500.0, deposits),
        "e-",
        position_mm=(0.0, 0.0, -10.0),
        direction=(0.0, 0.0, 1.0),
    )
    engine.shoot([energy_gev * 1e3] * n_events, [event_seeds(seed, i) for i in range(n_events)])
    return deposits[0] / (energy_gev * 1e3 * n_events)


def tungsten_block_containment(
    energy_gev: float = 1.0, n_events: int = 10, seed: int = 1, thickness_mm: float = 300.0
) -> float:
    """Fraction of the beam energy deposited in a thick tungsten block."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_block_deposit, (energy_gev, n_events, seed, thickness_mm))


def _par04_showers(config: SimulationConfig, energies_mev, start: int):
    return _simulate_chunk(config, None, start, np.asarray(energies_mev, dtype=np.float64))[:4]


def par04_showers(energies_gev, seed: int = 1, start: int = 0, **config_fields):
    """Showers (n, 6480) of the ds2 simulator at the given energies, in MeV (scaled), plus the
    silicon energy beyond the readout radius per shower (MeV, unscaled)."""
    config = SimulationConfig(seed=seed, **config_fields)
    energies_mev = np.asarray(energies_gev, dtype=np.float64) * 1e3
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        _, showers, _, dropped = pool.apply(_par04_showers, (config, energies_mev, start))
    return showers, dropped
