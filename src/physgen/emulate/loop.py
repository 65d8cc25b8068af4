"""``physgen emulate learn``: train an emulator on simulator calls chosen by a strategy, with
its error on a held-out test set after every batch.

- ``committee``: a Latin-hypercube start, then rounds of: train the committee on every point
  simulated so far, simulate the batch where it disagrees most (acquisition.select_batch);
- ``lhs``, ``sobol``, ``random``, ``grid``: the whole budget as one design, one training.

The run folder holds ``run.json``, ``state.json`` (every round: its points, the calls so far,
the test error; a batch is written there before it is simulated), ``simulations/`` (the
cache, unless ``cache`` names a shared one), ``checkpoints/emulator.pt`` (the emulator of the
last finished round), ``model.pt`` and ``learning.json`` at the end. A killed run resumes
where it stopped and repeats no simulator call: finished calls are in the cache, the pending
batch is in the state.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field
from tqdm import tqdm

from physgen.core.atomic import write_json_atomic
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.emulate.acquisition import select_batch
from physgen.emulate.designs import design
from physgen.emulate.emulator import Emulator, EmulatorConfig, emulator_config
from physgen.emulate.simulator import SimulationCache, Simulator
from physgen.models.committee import CommitteeConfig

__all__ = ["LearnConfig", "learn", "test_error", "STRATEGIES"]

STRATEGIES = ("committee", "lhs", "sobol", "random", "grid")
Count = Annotated[int, Field(ge=0)]


@settings
class LearnConfig:
    strategy: Literal["committee", "lhs", "sobol", "random", "grid"] = "committee"
    budget: Annotated[int, Field(ge=2)] = 100  # simulator calls for training points
    initial: Count = 0  # committee: the Latin-hypercube start (0: budget / 5, at least dim + 1)
    batch: Count = 0  # committee: points per query (0: budget / 20, at least 1)
    candidates: Annotated[int, Field(ge=16)] = 4096
    spread: Annotated[float, Field(ge=0)] = 0.5  # batch penalisation radius / design spacing
    test_points: Annotated[int, Field(ge=2)] = 200
    test_seed: int = 99  # the same test set for every strategy and seed
    seed: Count = 0
    committee: CommitteeConfig = field(default_factory=CommitteeConfig)
    steps: Annotated[int, Field(ge=1)] = 5000
    training: TrainingConfig = field(default_factory=lambda: EmulatorConfig().training)

    def round_sizes(self, dim: int) -> list[int]:
        if self.strategy != "committee":
            return [self.budget]
        first = self.initial or max(self.budget // 5, dim + 1)
        step = self.batch or max(self.budget // 20, 1)
        if first > self.budget:
            raise PhysgenInputError(f"the initial design ({first}) exceeds the budget")
        sizes = [first]
        while sum(sizes) < self.budget:
            sizes.append(min(step, self.budget - sum(sizes)))
        return sizes


def test_error(emulator: Emulator, points, summaries, covariances) -> dict:
    """RMSE of the committee mean on test points, each summary in units of its spread over
    the test set, and the floor a perfect emulator would see from the test points' own noise."""
    predicted = emulator.predict(torch.as_tensor(points, dtype=torch.float32)).mean
    scale = summaries.std(0).clip(1e-300)
    pulls = (predicted.cpu().double().numpy() - summaries) / scale
    noise = np.diagonal(covariances, axis1=1, axis2=2) / scale**2
    return {
        "rmse": float(np.sqrt(np.mean(pulls**2))),
        "rmse_per_summary": np.sqrt(np.mean(pulls**2, 0)).tolist(),
        "noise_floor": float(np.sqrt(np.mean(noise))),
    }


def _train(simulator, config: LearnConfig, points, summaries, round_index) -> Emulator:
    emulator_settings = emulator_config(
        simulator.bounds,
        len(simulator.summary_names),
        committee=config.committee,
        steps=config.steps,
        training=replace(config.training, seed=config.seed * 1000 + round_index),
    )
    emulator = Emulator.from_config(emulator_settings)
    emulator.fit(
        torch.as_tensor(summaries, dtype=torch.float32),
        torch.as_tensor(points, dtype=torch.float32),
        Run(progress=False),
    )
    return emulator


def _next_points(simulator, config, sizes, rounds, emulator) -> np.ndarray:
    index = len(rounds)
    bounds = simulator.bounds
    if index == 0:
        kind = "lhs" if config.strategy == "committee" else config.strategy
        return design(kind, sizes[0], bounds, config.seed)
    known = sum(len(r["points"]) for r in rounds)
    chosen, _ = select_batch(
        lambda p: emulator.predict(torch.as_tensor(p, dtype=torch.float32)).disagreement.numpy(),
        bounds,
        known,
        sizes[index],
        seed=config.seed * 1000 + index,
        candidates=config.candidates,
        spread=config.spread,
    )
    return chosen


def learn(
    simulator: Simulator,
    config: LearnConfig,
    out,
    resume: bool = False,
    jobs: int = 1,
    scheduler: str | None = None,
    cache=None,
    log=print,
) -> dict:
    """Run the strategy to its budget; returns the learning record (also ``learning.json``)."""
    out = Path(out)
    run = Run(out, resume=resume)
    state_path, checkpoint = out / "state.json", out / "checkpoints" / "emulator.pt"
    if not resume and state_path.exists():
        raise PhysgenInputError(f"{out} holds a learning run; add --resume or choose another --out")
    sizes = config.round_sizes(simulator.dim)
    if config.strategy != "committee":  # a design that cannot be made fails before any call
        design(config.strategy, sizes[0], simulator.bounds, config.seed)
    started = time.perf_counter()
    run.start(config, config.seed, simulator=simulator.describe())
    state = {"rounds": [], "pending": None}
    if resume and state_path.exists():
        state = json.loads(state_path.read_text())
    store = SimulationCache(cache or out / "simulations", simulator)
    bar = tqdm(total=sum(sizes) + config.test_points, desc=f"{simulator.name}: calls", unit="call")
    test_points = design("sobol", config.test_points, simulator.bounds, config.test_seed)
    test = store.simulate(test_points, jobs, scheduler, progress=bar.update)
    emulator = Emulator.load(checkpoint) if state["rounds"] and checkpoint.exists() else None
    bar.update(sum(len(r["points"]) for r in state["rounds"]))
    while len(state["rounds"]) < len(sizes):
        round_started = time.perf_counter()
        if state["pending"] is None:
            state["pending"] = _next_points(simulator, config, sizes, state["rounds"], emulator)
            state["pending"] = np.asarray(state["pending"]).tolist()
            write_json_atomic(state_path, state)
        points = np.array(state["pending"] + [p for r in state["rounds"] for p in r["points"]])
        summaries, _, seconds = store.simulate(points, jobs, scheduler, progress=bar.update)
        emulator = _train(simulator, config, points, summaries, len(state["rounds"]))
        error = test_error(emulator, test_points, test[0], test[1])
        state["rounds"].append(
            {
                "points": state["pending"],
                "calls": len(points),
                **error,
                "simulator_s": float(seconds.sum()),
                "round_s": time.perf_counter() - round_started,
            }
        )
        state["pending"] = None
        emulator.save(checkpoint)
        write_json_atomic(state_path, state)
        floor = error["noise_floor"]
        log(f"{len(points)} calls: test RMSE {error['rmse']:.4g} (noise floor {floor:.3g})")
    bar.close()
    record = {
        "simulator": simulator.describe(),
        "strategy": config.strategy,
        "config": asdict(config),
        "calls": state["rounds"][-1]["calls"],
        "curve": [
            {k: r[k] for k in ("calls", "rmse", "noise_floor", "simulator_s", "round_s")}
            for r in state["rounds"]
        ],
        "rmse": state["rounds"][-1]["rmse"],
        "rmse_per_summary": state["rounds"][-1]["rmse_per_summary"],
        "summary_names": list(simulator.summary_names),
        "simulator_calls_this_run": store.calls,
        "wall_s": time.perf_counter() - started,
    }
    run.finish(emulator, {"rounds": len(state["rounds"])}, **record)
    write_json_atomic(out / "learning.json", record)
    return record
