"""The simulator interface of the emulate domain, and the cache that makes every parameter
point cost one simulator call at most.

A simulator maps a parameter point (physical values within ``bounds``) and a seed to a
summary vector and, for a noisy simulator, the covariance of that summary (e.g. the standard
errors of event averages). Its settings (events per call, ...) are a typed dataclass; the
settings and the point make the cache key, and the seed of a call is drawn from the key, so a
point simulated again - in a resumed run, by another strategy sharing the cache - would give
the same answer, and the cache returns it without the call.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from physgen.core.atomic import write_npz_atomic
from physgen.core.errors import PhysgenInputError

__all__ = ["Simulator", "Simulation", "SimulationCache", "call_simulator"]


@dataclass(frozen=True)
class Simulation:
    summary: np.ndarray  # (summaries,)
    covariance: np.ndarray  # (summaries, summaries); zeros for a deterministic simulator
    seconds: float = 0.0  # wall time of the call


class Simulator:
    """Subclasses set ``name``, ``parameter_names``, ``bounds``, ``summary_names`` and
    ``settings_class`` and implement ``run(point, seed) -> (summary, covariance)``."""

    name: str = "simulator"
    parameter_names: tuple[str, ...] = ()
    summary_names: tuple[str, ...] = ()
    settings_class: type = dict
    noisy: bool = True

    def __init__(self, settings=None):
        self.settings = settings if settings is not None else self.settings_class()

    @property
    def bounds(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return len(self.parameter_names)

    def run(self, point: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"simulator": self.name, "settings": asdict(self.settings)}

    def key(self, point: np.ndarray) -> str:
        """The cache key of a point: a hash of the simulator, its settings and the point."""
        text = json.dumps(self.describe(), sort_keys=True)
        digest = hashlib.sha256(text.encode())
        digest.update(np.ascontiguousarray(point, dtype=np.float64).tobytes())
        return digest.hexdigest()[:24]

    def seed_of(self, key: str) -> int:
        """A seed in 1..9e8 (Pythia's range) drawn from the key."""
        return int(key[:12], 16) % 900_000_000 + 1

    def check_points(self, points) -> np.ndarray:
        points = np.atleast_2d(np.asarray(points, dtype=np.float64))
        bounds = self.bounds
        if points.shape[1] != self.dim:
            raise PhysgenInputError(
                f"{self.name} takes {self.dim} parameters ({', '.join(self.parameter_names)}), "
                f"got points with {points.shape[1]}"
            )
        outside = (points < bounds[:, 0]) | (points > bounds[:, 1])
        if outside.any():
            row, column = np.argwhere(outside)[0]
            raise PhysgenInputError(
                f"{self.parameter_names[column]} = {points[row, column]:g} is outside the "
                f"bounds [{bounds[column, 0]:g}, {bounds[column, 1]:g}] of {self.name}"
            )
        return points


def call_simulator(simulator: Simulator, point: np.ndarray) -> Simulation:
    """One simulator call at ``point`` with the seed of its key."""
    started = time.perf_counter()
    summary, covariance = simulator.run(point, simulator.seed_of(simulator.key(point)))
    return Simulation(
        np.asarray(summary, dtype=np.float64),
        np.asarray(covariance, dtype=np.float64),
        time.perf_counter() - started,
    )


class SimulationCache:
    """One ``KEY.npz`` per simulated point in ``folder`` (written atomically: a kill loses at
    most the call in progress)."""

    def __init__(self, folder, simulator: Simulator):
        self.folder, self.simulator = Path(folder), simulator
        self.folder.mkdir(parents=True, exist_ok=True)
        self.calls = 0  # simulator calls made through this cache

    def _path(self, point) -> Path:
        return self.folder / f"{self.simulator.key(point)}.npz"

    def get(self, point) -> Simulation | None:
        path = self._path(point)
        if not path.exists():
            return None
        with np.load(path) as stored:
            return Simulation(stored["summary"], stored["covariance"], float(stored["seconds"]))

    def put(self, point, result: Simulation) -> None:
        write_npz_atomic(
            self._path(point),
            point=np.asarray(point, dtype=np.float64),
            summary=result.summary,
            covariance=result.covariance,
            seconds=np.float64(result.seconds),
        )

    def simulate(self, points, jobs: int = 1, scheduler: str | None = None, progress=None):
        """Summaries (n, s), covariances (n, s, s) and call seconds (n,) at ``points``; only
        the points not in the cache are simulated (on ``jobs`` Dask workers when more than
        one), each stored as soon as it is done."""
        points = self.simulator.check_points(points)
        results: list[Simulation | None] = [self.get(p) for p in points]
        missing = [i for i, r in enumerate(results) if r is None]
        for index, result in zip(missing, self._run(points[missing], jobs, scheduler), strict=True):
            self.put(points[index], result)
            results[index] = result
            self.calls += 1
            if progress is not None:
                progress(1)
        return (
            np.stack([r.summary for r in results]),
            np.stack([r.covariance for r in results]),
            np.array([r.seconds for r in results]),
        )

    def _run(self, points, jobs, scheduler):
        if len(points) == 0:
            return iter(())
        if jobs <= 1 and scheduler is None:
            return (call_simulator(self.simulator, p) for p in points)
        from physgen.core.cluster import run_shards

        return run_shards(
            call_simulator, ((self.simulator, p) for p in points), jobs=jobs, scheduler=scheduler
        )
