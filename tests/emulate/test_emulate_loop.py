"""The active-learning loop: a run killed in the middle of a batch resumes without repeating
a simulator call, and the loop spends exactly its budget."""

import json
from dataclasses import dataclass

import numpy as np
import pytest

from physgen.core.errors import PhysgenInputError
from physgen.emulate.analytic import Ishigami
from physgen.emulate.loop import LearnConfig, learn
from physgen.models.committee import CommitteeConfig


class Killed(Exception):
    pass


@dataclass
class Counter:
    calls: int = 0
    kill_at: int | None = None  # the call that raises, as a kill in the middle of a batch


class CountingIshigami(Ishigami):
    def __init__(self, counter: Counter):
        super().__init__()
        self.counter = counter

    def run(self, point, seed):
        if self.counter.kill_at is not None and self.counter.calls == self.counter.kill_at:
            raise Killed
        self.counter.calls += 1
        return super().run(point, seed)


CONFIG = LearnConfig(
    strategy="committee",
    budget=30,
    initial=10,
    batch=5,
    test_points=8,
    steps=150,
    committee=CommitteeConfig(members=3, hidden=(16,)),
)


def _learn(counter, out, resume=False):
    return learn(CountingIshigami(counter), CONFIG, out, resume=resume, log=lambda m: None)


def test_resume_after_a_kill_repeats_no_simulator_call(tmp_path):
    # 8 test calls + 10 initial + 5 of the first batch + 2 of the second, then the kill
    first = Counter(kill_at=25)
    with pytest.raises(Killed):
        _learn(first, tmp_path / "run")
    assert first.calls == 25
    with pytest.raises(PhysgenInputError, match="--resume"):
        _learn(Counter(), tmp_path / "run")

    second = Counter()
    record = _learn(second, tmp_path / "run", resume=True)
    assert first.calls + second.calls == CONFIG.test_points + CONFIG.budget
    assert record["calls"] == CONFIG.budget and len(record["curve"]) == 5
    stored = [np.load(p)["point"] for p in (tmp_path / "run" / "simulations").glob("*.npz")]
    assert len(np.unique(np.round(stored, 12), axis=0)) == len(stored) == 38

    # the same run again costs nothing, and an uninterrupted run gives the same points
    again = Counter()
    _learn(again, tmp_path / "run", resume=True)
    assert again.calls == 0
    fresh = Counter()
    clean = _learn(fresh, tmp_path / "clean")
    assert fresh.calls == 38
    resumed = json.loads((tmp_path / "run" / "state.json").read_text())["rounds"]
    uninterrupted = json.loads((tmp_path / "clean" / "state.json").read_text())["rounds"]
    for a, b in zip(resumed, uninterrupted, strict=True):
        np.testing.assert_allclose(a["points"], b["points"])
    assert clean["rmse"] == pytest.approx(record["rmse"], rel=1e-5)
