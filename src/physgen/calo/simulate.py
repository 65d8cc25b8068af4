"""Reference showers from Geant4 in the CaloChallenge format (``physgen calo simulate``).

Events are simulated in chunks (shards) by worker processes of a Dask cluster
(core.cluster: a local one of ``jobs`` processes, or the one at ``scheduler``; Geant4's
multi-threaded run managers deadlock under Python, and Geant4 starts once per process) and
appended in order to ``OUT.partial``; the file is renamed to OUT when the requested count is
reached. A killed run keeps every finished chunk, and ``resume=True`` continues it. Each event
is seeded from (seed, event index), so the output is bit-identical for any number of jobs or
workers, and a chunk retried after its worker died is the same chunk. With ``fast_sim`` (a
trained run folder) the surrogate takes over the showers inside the Geant4 run
(calo.geant4.fast_sim).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from physgen import __version__
from physgen.calo.geometry import get_geometry
from physgen.calo.io import ShowerWriter, open_shower_file
from physgen.core.cluster import run_shards
from physgen.core.errors import PhysgenInputError

SPECTRA = ("log-uniform", "uniform")
PARTICLES = ("e-", "e+", "gamma")


@dataclass(frozen=True)
class SimulationConfig:
    geometry: str = "ds2"
    particle: str = "e-"
    energy_gev: str = "1:100"  # one value, a comma list, or LOW:HIGH with a spectrum
    spectrum: str = "log-uniform"
    n_events: int = 1000
    seed: int = 1
    sampling_fraction: float = 0.033
    physics: str = "auto"  # "auto", "data-free-em" or a Geant4 reference list name
    cut_mm: float = 0.7
    chunk_size: int = 50
    fast_sim: str = ""  # a trained run folder: its surrogate simulates the EM showers
    angle_deg: float = 0.0  # incidence angle to the calorimeter normal, tilted towards +y

    def validate(self) -> None:
        if self.geometry not in ("ds2", "ds3"):
            raise PhysgenInputError(
                f"geometry '{self.geometry}' cannot be simulated: the Geant4 detector is the "
                "Par04 calorimeter of datasets 2 and 3 (use ds2 or ds3)"
            )
        if self.particle not in PARTICLES:
            raise PhysgenInputError(
                f"particle '{self.particle}': use one of {', '.join(PARTICLES)}"
            )
        if self.spectrum not in SPECTRA:
            raise PhysgenInputError(f"spectrum '{self.spectrum}': use one of {', '.join(SPECTRA)}")
        if self.n_events < 1:
            raise PhysgenInputError("--n must be at least 1")
        if not 0 <= self.angle_deg < 90:
            raise PhysgenInputError(f"--angle {self.angle_deg:g}: use an angle in [0, 90) degrees")
        if not 0 < self.sampling_fraction <= 1:
            raise PhysgenInputError("the sampling fraction must be in (0, 1]")
        incident_energies_mev(self.energy_gev, self.spectrum, 1, self.seed)
        if self.fast_sim and not (Path(self.fast_sim) / "model.pt").is_file():
            raise PhysgenInputError(
                f"--fast-sim {self.fast_sim}: no model.pt there; train one with `physgen calo "
                "train`"
            )


def incidence_direction(angle_deg: float) -> tuple[float, float, float]:
    """The gun's direction: the calorimeter normal (+x) tilted by ``angle_deg`` towards +y."""
    angle = np.radians(angle_deg)
    return (float(np.cos(angle)), float(np.sin(angle)), 0.0)


def gun_position_mm(angle_deg: float, inner_radius_mm: float) -> tuple[float, float, float]:
    """A start in the vacuum inside the barrel from which the tilted gun enters the
    calorimeter at (inner radius, 0, 0), the centre of the readout (so that a tilted shower
    stays in the readout cylinder); the origin at normal incidence."""
    dx, dy, _ = incidence_direction(angle_deg)
    return (inner_radius_mm * (1.0 - dx), -inner_radius_mm * dy, 0.0)


def incident_energies_mev(spec: str, spectrum: str, n_events: int, seed: int) -> np.ndarray:
    """Incident energies in MeV from a GeV spec: '10', '1,10,50' (cycled) or '1:100'.

    Ranges are sampled from their own stream, so the first k energies of n >= k events
    are the same for any n (a resumed or extended run continues the same sequence).
    """
    text = str(spec).strip()
    try:
        if ":" in text:
            low, high = (float(v) for v in text.split(":"))
            if not 0 < low < high:
                raise ValueError
            u = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED])).random(n_events)
            if spectrum == "log-uniform":
                values = np.exp(np.log(low) + u * (np.log(high) - np.log(low)))
            else:
                values = low + u * (high - low)
        else:
            listed = np.array([float(v) for v in text.split(",")])
            if np.any(listed <= 0):
                raise ValueError
            values = listed[np.arange(n_events) % len(listed)]
    except ValueError:
        raise PhysgenInputError(
            f"energy '{spec}': give GeV as one positive value (10), a list (1,10,50) or a "
            "range LOW:HIGH with 0 < LOW < HIGH (1:100)"
        ) from None
    return (values * 1e3).astype(np.float64)


# --- worker side -------------------------------------------------------------------------
# One Geant4 engine per worker process, started by its first chunk (a failure then reaches
# the driver as that chunk's error) and kept for the chunks of the same settings.
_WORKER: dict = {}


def _silence_geant4(log_path: str | None) -> None:
    """Send this worker's Geant4 banner and messages to a log file (or nowhere)."""
    import sys

    target = os.open(log_path or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(target, 1)
    os.dup2(target, 2)
    sys.stdout = sys.stderr = open(target, "w", buffering=1, closefd=False)


def _engine_key(config: SimulationConfig) -> tuple:
    """The settings the Geant4 application depends on (seeds and energies come per event)."""
    return (config.geometry, config.particle, config.physics, config.cut_mm, config.fast_sim,
            config.sampling_fraction, config.angle_deg)  # fmt: skip


def _engine(config: SimulationConfig, log_path: str | None):
    if _WORKER.get("key") != _engine_key(config):
        _start_geant4(config, log_path)
    return _WORKER["engine"]


def _start_geant4(config: SimulationConfig, log_path: str | None) -> None:
    from physgen.calo.geant4.detector import HitBinner, Par04Layout, build_par04
    from physgen.calo.geant4.engine import Geant4Engine

    _silence_geant4(log_path)
    layout = Par04Layout()
    hits: list = []
    showers: list = []
    dropped: list = []
    geometry = get_geometry(config.geometry)
    binner = HitBinner(geometry, layout.n_layers)
    fast = None
    if config.fast_sim:
        from physgen.calo.geant4.fast_sim import FastShowerSimulation

        fast = FastShowerSimulation(config.fast_sim, geometry, config.sampling_fraction)

    def on_event():
        if fast is not None:
            fast.deposit(hits, binner.sensitive_per_readout, _WORKER["engine"].current_seeds[0])
        shower, dropped_mev = binner.bin(np.asarray(hits, dtype=np.float64).reshape(-1, 4))
        showers.append(shower)
        dropped.append(dropped_mev)
        hits.clear()

    engine = Geant4Engine(
        build_par04(layout, hits),
        config.particle,
        position_mm=gun_position_mm(config.angle_deg, layout.inner_radius_mm),
        direction=incidence_direction(config.angle_deg),
        physics=config.physics,
        cut_mm=config.cut_mm,
        on_event=on_event,
        stepping_action=None if fast is None else fast.stepping_action,
    )
    _WORKER.update(
        engine=engine, showers=showers, dropped=dropped, key=_engine_key(config), fast=fast
    )


def _simulate_chunk(config: SimulationConfig, log_path: str | None, start: int, energies_mev):
    """Simulate events start, start+1, ...: (start, scaled showers, CPU s, dropped Si MeV,
    fast-simulation counts of this chunk, (physics list, Geant4 version))."""
    from physgen.calo.geant4.engine import event_seeds

    engine = _engine(config, log_path)
    _WORKER["showers"].clear()
    _WORKER["dropped"].clear()
    fast = _WORKER["fast"]
    before = (fast.handed_over, fast.surrogate_s) if fast is not None else (0, 0.0)
    cpu_start = time.process_time()
    seeds = [event_seeds(config.seed, start + i) for i in range(len(energies_mev))]
    engine.shoot(energies_mev, seeds)
    cpu_seconds = time.process_time() - cpu_start
    scaled = np.stack(_WORKER["showers"]) / config.sampling_fraction
    counts = {}
    if fast is not None:
        counts = {
            "handed_over": fast.handed_over - before[0],
            "surrogate_s": fast.surrogate_s - before[1],
            "max_angle_rad": fast.max_angle_rad,
        }
    dropped = np.array(_WORKER["dropped"])
    return start, scaled.astype(np.float32), cpu_seconds, dropped, counts, _physics_info(engine)


def _physics_info(engine) -> tuple[str, str]:
    from physgen.calo.geant4.em_physics import PHYSICS_LIST_NAME
    from physgen.calo.geant4.runtime import geant4_version

    name = engine.physics_name
    return (PHYSICS_LIST_NAME if name == "data-free-em" else name), geant4_version()


# --- driver side -------------------------------------------------------------------------
def _file_attrs(config: SimulationConfig, physics_list: str, g4_version: str, command_line: str):
    attrs = {f"sim_{k}": v for k, v in asdict(config).items()}
    attrs.update(
        generator="physgen calo simulate (Geant4)",
        physics_list=physics_list,
        geant4_version=g4_version,
        geometry=config.geometry,
        physgen_version=__version__,
        command_line=command_line,
        energy_unit="MeV",
        voxel_energy_convention=f"silicon energy / {config.sampling_fraction}",
    )
    return attrs


class _Unreadable(Exception):
    pass


def _check_writable(out: Path) -> None:
    folder = out.parent if str(out.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".{out.name}.{os.getpid()}.probe.tmp"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise PhysgenInputError(f"--out {out}: cannot write in {folder} ({err.strerror})") from None


def _from_workers(call, log_path: str):
    """``call()`` on the cluster; a worker's error stops the command with that error."""
    try:
        return call()
    except PhysgenInputError:
        raise
    except Exception as err:  # re-raised from a worker: Geant4 setup or a chunk failed
        raise PhysgenInputError(
            f"a Geant4 worker failed: {type(err).__name__}: {err} (Geant4's own messages: "
            f"{log_path})"
        ) from None


def _check_resumable(partial: Path, config: SimulationConfig) -> None:
    try:
        attrs = open_shower_file(partial).attrs
    except PhysgenInputError as err:
        raise _Unreadable(str(err)) from None
    for key, value in asdict(config).items():
        if key in ("n_events", "chunk_size"):
            continue
        stored = attrs.get(f"sim_{key}")
        if stored is not None and stored != value:
            raise PhysgenInputError(
                f"{partial}: cannot resume, it was simulated with {key}={stored!r}, not {value!r}; "
                "use the same settings or another --out"
            )


def simulate(
    config: SimulationConfig,
    out: str | os.PathLike,
    jobs: int = 1,
    resume: bool = False,
    command_line: str = "",
    progress: bool = True,
    log=print,
    scheduler: str | None = None,
) -> dict:
    """Simulate ``config.n_events`` showers into ``out`` on ``jobs`` local worker processes or
    the Dask scheduler at ``scheduler``; returns timing figures."""
    config.validate()
    if config.physics not in ("auto", "data-free-em"):
        from physgen.calo.geant4.runtime import STANDARD_DATA_VARIABLES, real_data_available

        if not real_data_available():
            raise PhysgenInputError(
                f"--physics {config.physics}: Geant4's reference physics lists (FTFP_BERT, "
                "QGSP_BIC, ...) need the Geant4 data sets, which are not set up "
                f"({', '.join(STANDARD_DATA_VARIABLES)} must name existing folders); use "
                "--physics auto (the data-free EM list without them) or install the data"
            )
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    if out.exists() and not resume:
        raise PhysgenInputError(f"{out} exists; remove it, choose another --out or pass --resume")
    if out.exists() and resume:
        done = open_shower_file(out).n_events
        if done >= config.n_events:
            log(f"{out} already holds {done} showers (>= {config.n_events} requested)")
            return {"n_simulated": 0, "wall_s": 0.0, "cpu_s": 0.0}
        _check_resumable(out, config)
        os.replace(out, partial)
    if partial.exists() and not resume:
        partial.unlink()
    if partial.exists():
        try:
            _check_resumable(partial, config)
        except _Unreadable:
            log(f"{partial} is unreadable (killed before its first chunk was written): restarting")
            partial.unlink()
    _check_writable(out)

    geometry = get_geometry(config.geometry)
    energies = incident_energies_mev(
        config.energy_gev, config.spectrum, config.n_events, config.seed
    )
    first = open_shower_file(partial).n_events if partial.exists() else 0
    if first:
        log(f"resuming {partial}: {first} of {config.n_events} showers already done")
    log_path = str(out.with_name(out.name + ".geant4.log"))
    shards = [
        (config, log_path, start, energies[start : min(start + config.chunk_size, config.n_events)])
        for start in range(first, config.n_events, config.chunk_size)
    ]
    wall_start = time.perf_counter()
    cpu_total, fast_totals, physics = 0.0, {"handed_over": 0, "surrogate_s": 0.0}, None
    with (
        contextlib.ExitStack() as stack,
        tqdm(
            total=config.n_events,
            initial=first,
            unit="shower",
            disable=not progress,
            desc=f"Geant4 {config.particle} {config.geometry}"
            + (" fast-sim" if config.fast_sim else ""),
            smoothing=0.1,
        ) as bar,
    ):
        writer = None
        results = run_shards(_simulate_chunk, shards, jobs, scheduler)
        stack.callback(results.close)
        while (chunk := _from_workers(lambda: next(results, None), log_path)) is not None:
            start, showers, cpu_seconds, _, counts, physics = chunk
            if writer is None:
                if "data-free" in physics[0]:
                    log(
                        "Geant4 data sets not found: using the data-free EM physics list "
                        "(recorded in the file attributes)"
                    )
                attrs = _file_attrs(config, *physics, command_line)
                writer = stack.enter_context(
                    ShowerWriter(partial, geometry.n_voxels, attrs, atomic=False, resume=first > 0)
                )
            writer.append(energies[start : start + len(showers)], showers)
            cpu_total += cpu_seconds
            for key in fast_totals:
                fast_totals[key] += counts.get(key, 0)
            fast_totals["max_angle_rad"] = max(
                fast_totals.get("max_angle_rad", 0.0), counts.get("max_angle_rad", 0.0)
            )
            bar.update(len(showers))
        if writer is not None and config.fast_sim:
            writer.set_attrs({f"fast_sim_{k}": v for k, v in fast_totals.items()})
        n_simulated = config.n_events - first
    os.replace(partial, out)
    result = {
        "n_simulated": n_simulated,
        "wall_s": time.perf_counter() - wall_start,
        "cpu_s": cpu_total,
        "physics_list": physics[0] if physics else None,
        "geant4_version": physics[1] if physics else None,
    }
    if config.fast_sim:
        result["fast_sim"] = fast_totals
    return result
