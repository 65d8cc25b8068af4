"""Kills at awkward points: a command killed with SIGKILL and run again (with --resume where
it has one) ends as the uninterrupted command does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

PHYSGEN = [sys.executable, "-m", "physgen.cli"]


def _start(args, cwd):
    return subprocess.Popen(
        [*PHYSGEN, *map(str, args)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _kill_when(process, condition, timeout=120):
    started = time.monotonic()
    while not condition():
        if process.poll() is not None:
            pytest.fail("the command ended before the kill point")
        if time.monotonic() - started > timeout:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail("the kill point never came")
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _run(args, cwd):
    result = subprocess.run(
        [*PHYSGEN, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result


@pytest.mark.slow
def test_simulate_killed_in_its_first_chunk_resumes(tmp_path):
    import importlib.util

    if importlib.util.find_spec("geant4_pybind") is None:  # importing it here asks for data
        pytest.skip("geant4-pybind is not installed")
    args = ["calo", "simulate", "--n", 6, "--chunk-size", 3, "--energy", "2:5", "--seed", 4]
    process = _start([*args, "--out", tmp_path / "a.h5"], tmp_path)
    _kill_when(process, lambda: (tmp_path / "a.h5.partial").exists())
    _run([*args, "--out", tmp_path / "a.h5", "--resume"], tmp_path)
    _run([*args, "--out", tmp_path / "b.h5"], tmp_path)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert np.array_equal(a["showers"][:], b["showers"][:])
        assert np.array_equal(a["incident_energies"][:], b["incident_energies"][:])


@pytest.mark.slow
def test_training_killed_after_a_checkpoint_resumes_to_the_same_model(tmp_path):
    rng = np.random.default_rng(0)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), 80)).astype(np.float32)
    weights = rng.gamma(0.7, 1.0, (80, 368)) * (rng.random((80, 368)) < 0.4)
    deposits = weights / weights.sum(1, keepdims=True) * energies[:, None] * 0.9
    from physgen.calo.io import write_showers

    write_showers(tmp_path / "train.h5", energies, deposits.astype(np.float32))
    (tmp_path / "c.yaml").write_text(
        "model: coupling\ngeometry: ds1-photons\nflow: {transforms: 2, hidden: [64], bins: 4}\n"
        "training: {epochs: 30, batch_size: 8, patience: null}\n"
    )
    args = ["--threads", 1, "calo", "train", "--config", "c.yaml", "--data", "train.h5"]
    checkpoint = tmp_path / "a" / "checkpoints" / "flow" / "checkpoint.pt"

    def after_epoch_two():
        try:
            return torch.load(checkpoint, weights_only=False)["state"]["epoch"] >= 2
        except Exception:  # not written yet, or being renamed
            return False

    process = _start([*args, "--out", "a"], tmp_path)
    _kill_when(process, after_epoch_two)
    _run([*args, "--out", "a", "--resume"], tmp_path)
    _run([*args, "--out", "b"], tmp_path)
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=False)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_killed_write_leaves_no_temporary_after_the_next_one(tmp_path):
    """A write killed before its rename leaves .NAME.PID.*.tmp; the next write of the same
    target removes it (its process is gone) and keeps live writers' files."""
    from physgen.core.atomic import write_text_atomic

    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f".out.json.{dead.pid}.abc.tmp"
    stale.write_text("half")
    live = tmp_path / f".out.json.{os.getppid()}.def.tmp"
    live.write_text("another writer")
    write_text_atomic(tmp_path / "out.json", "{}")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "out.json").read_text() == "{}"
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == [live.name, "out.json"]
