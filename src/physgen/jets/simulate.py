"""``physgen jets simulate``: Pythia 8 + FastJet reference data, chunk by chunk, resumable.

Chunk k of a run holds ``chunk_events`` events generated with a Pythia seeded from (seed, k);
the output is therefore the same for a run done at once, resumed after a kill, extended, or
sharded over ``jobs`` worker processes or the workers of a Dask ``scheduler`` (core.cluster:
chunks run ahead on the workers and are written in order).
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from tqdm import tqdm

from physgen import __version__
from physgen.core.cluster import run_shards
from physgen.core.errors import PhysgenInputError
from physgen.core.h5_table import ResumableTable
from physgen.jets.pythia import chunk_seed, generate_records
from physgen.jets.tasks import (
    JET_TYPES,
    cloud_settings,
    emulation_pairs,
    pair_settings,
    particle_clouds,
)

__all__ = ["JetSimulationConfig", "simulate_jets", "TASKS"]

TASKS = ("pairs", "clouds")


@dataclass(frozen=True)
class JetSimulationConfig:
    task: str = "pairs"  # pairs: parton -> particle jets; clouds: JetNet-like particle clouds
    n: int = 10000  # rows wanted: jet pairs or jets
    seed: int = 1
    chunk_events: int = 500
    pt_hat_min: float = 30.0  # pairs
    biased: bool = False  # pairs: pTHat^4-biased spectrum with event weights
    mpi: bool = True  # pairs: multiparton interactions (underlying event)
    detector: bool = False  # pairs: add parametric detector-level jets
    jet_type: str = "g"  # clouds: g, q, t, W, Z

    def validate(self) -> None:
        if self.task not in TASKS:
            raise PhysgenInputError(f"task '{self.task}': use one of {', '.join(TASKS)}")
        if self.n < 1 or self.chunk_events < 1:
            raise PhysgenInputError("--n and --chunk-events must be at least 1")
        if self.task == "clouds" and self.jet_type not in JET_TYPES:
            raise PhysgenInputError(f"jet type '{self.jet_type}': use one of {JET_TYPES}")
        if self.pt_hat_min <= 0:
            raise PhysgenInputError("--pt-hat-min must be positive (GeV)")

    def settings(self) -> tuple[str, ...]:
        if self.task == "pairs":
            return pair_settings(self.pt_hat_min, self.biased, self.mpi)
        return cloud_settings(self.jet_type)


def _columns(config: JetSimulationConfig) -> dict:
    if config.task == "clouds":
        return {"particle_features": ((30, 4), "f4"), "jet_features": ((4,), "f4")}
    columns = {
        "parton_jets": ((4,), "f4"),
        "particle_jets": ((4,), "f4"),
        "weights": ((), "f8"),
    }
    if config.detector:
        columns["detector_jets"] = ((4,), "f4")
    return columns


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _chunk_rows(config: JetSimulationConfig, chunk: int) -> dict:
    records = generate_records(config.settings(), config.seed, chunk, config.chunk_events)
    if config.task == "clouds":
        return particle_clouds(records, config.jet_type)
    detector_rng = np.random.default_rng(chunk_seed(config.seed + 7919, chunk))
    return emulation_pairs(records, detector_rng=detector_rng if config.detector else None)


def _chunks(config: JetSimulationConfig, first: int, jobs: int, scheduler: str | None):
    """The rows of chunks first, first + 1, ... (open-ended: the caller stops reading)."""
    if jobs == 1 and scheduler is None:
        yield from (_chunk_rows(config, k) for k in itertools.count(first))
        return
    yield from run_shards(
        _chunk_rows, ((config, k) for k in itertools.count(first)), jobs, scheduler
    )


def simulate_jets(
    config: JetSimulationConfig,
    out,
    resume: bool = False,
    command_line: str = "",
    progress=True,
    jobs: int = 1,
    scheduler: str | None = None,
) -> dict:
    """Write ``config.n`` rows to ``out``; returns rows, events, seconds and rows per second."""
    config.validate()
    attrs = {
        "generator": "Pythia 8 + FastJet (physgen jets simulate)",
        "pythia_version": package_version("pythia8mc"),
        "fastjet_version": package_version("fastjet"),
        "physgen_version": __version__,
        "config": json.dumps(asdict(config), sort_keys=True),
        "pythia_settings": json.dumps(config.settings()),
        "units": "GeV",
        "columns": "pt, eta, phi, m" if config.task == "pairs" else "see docs/jets.md",
        "command_line": command_line,
    }
    table = ResumableTable(out, _columns(config), attrs, resume=resume)
    started, events, initial_rows = time.perf_counter(), 0, min(table.n_rows, config.n)
    try:
        with tqdm(
            total=config.n, initial=initial_rows, unit=config.task[:-1], disable=not progress
        ) as bar:
            chunks = _chunks(config, table.chunks_done, jobs, scheduler)
            try:
                while table.n_rows < config.n:
                    before = table.n_rows
                    table.append(next(chunks))
                    events += config.chunk_events
                    bar.update(min(table.n_rows, config.n) - before)
            finally:
                chunks.close()
        seconds = time.perf_counter() - started
        path = table.finish(config.n, {"events_generated": table.chunks_done * config.chunk_events})
    finally:
        table.close()
    return {
        "path": str(path),
        "rows": config.n,
        "events": events,
        "seconds": seconds,
        "rows_per_s": (config.n - initial_rows) / seconds if events else float("nan"),
    }
