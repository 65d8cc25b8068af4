"""Data-parallel training under torchrun: two CPU processes (gloo) against one."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent


def torchrun(*args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE)}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    done = subprocess.run(
        [*command, *map(str, args)], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_two_process_gradients_equal_one_process_on_the_global_batch(tmp_path):
    sys.path.insert(0, str(HERE))
    from _ddp_worker import loss_fn, problem

    torchrun(HERE / "_ddp_worker.py", tmp_path / "grads.pt")
    shared = torch.load(tmp_path / "grads.pt")
    flow, x, c = problem()
    loss_fn(flow, x, c).backward()
    differences = [(shared[n] - p.grad).abs().max().item() for n, p in flow.named_parameters()]
    assert len(differences) == len(shared) and max(differences) < 1e-6
    assert min(p.grad.abs().max().item() for p in flow.parameters()) > 0


def _tiny_training_data(tmp_path):
    from physgen.calo.io import write_showers
    from synthetic import showers

    energies, deposits = showers(120)
    write_showers(tmp_path / "train.h5", energies, deposits)
    (tmp_path / "config.yaml").write_text(
        "model: coupling\n"
        "flow: {kind: coupling-rqs, transforms: 2, hidden: [16], bins: 4}\n"
        "training: {epochs: 2, batch_size: 40, patience: null}\n"
    )


@pytest.mark.slow
def test_a_cli_training_under_torchrun_saves_a_model_one_process_loads(tmp_path):
    from physgen.calo.models import SHOWER_MODELS
    from physgen.calo.models.base import generate_showers

    _tiny_training_data(tmp_path)
    physgen = Path(sys.executable).with_name("physgen")
    train = [physgen, "calo", "train", "--config", tmp_path / "config.yaml"]
    train += ["--data", tmp_path / "train.h5", "--out", tmp_path / "run"]
    torchrun(*train)
    checkpoints = list((tmp_path / "run" / "checkpoints").rglob("checkpoint.pt"))
    assert len(checkpoints) == 1  # written by rank 0 alone, in the one run folder
    model = SHOWER_MODELS.load(tmp_path / "run" / "model.pt")
    sample = generate_showers(model, np.full(4, 1e4, np.float32), seed=1)
    assert sample.shape == (4, 368) and np.isfinite(sample).all()
    first = torch.load(checkpoints[0], weights_only=False)["state"]["epoch"]
    # resume: a longer run continues from the checkpoint
    torchrun(*train, "--epochs", 3, "--resume")
    history = (tmp_path / "run" / "training.json").read_text()
    resumed = torch.load(checkpoints[0], weights_only=False)["state"]
    assert first == 2 and resumed["epoch"] == 3 and len(resumed["history"]) == 3
    assert '"epochs_run": 3' in history


def test_step_based_training_keeps_the_ranks_in_step(tmp_path):
    """Each rank draws its own samples; the averaged gradients keep the weights equal."""
    torchrun(HERE / "_ddp_optimize.py", tmp_path)
    first, second = (torch.load(tmp_path / f"weights{r}.pt") for r in (0, 1))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert (tmp_path / "checkpoint.pt").exists()
    torch.manual_seed(0)
    start = torch.nn.Linear(3, 1).state_dict()
    assert not torch.equal(start["weight"], first["weight"])  # it trained
