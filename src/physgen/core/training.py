"""The training loop every physgen model uses.

AdamW with a learning-rate schedule, a validation split and early stopping, an atomic
checkpoint after every epoch (``resume=True`` continues from it), a progress bar with loss
and rate, gradient clipping and a NaN guard that skips a bad batch or stops with a clear
message. float32 on CPU; CUDA when ``device`` asks for it.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field
from tqdm import tqdm

from physgen.core import distributed as ddp
from physgen.core.atomic import atomic_path
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError, TrainingDiverged

__all__ = ["TrainingConfig", "StepConfig", "TrainingDiverged", "fit", "optimize"]


Positive = Annotated[int, Field(ge=1)]
Rate = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Schedule = Literal["cosine", "constant", "onecycle"]
NanPolicy = Literal["skip", "stop"]


@settings
class TrainingConfig:
    epochs: Positive = 50
    batch_size: Positive = 256
    learning_rate: Rate = 1e-3
    weight_decay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.0
    schedule: Schedule = "cosine"
    validation_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.1
    patience: Positive | None = 10  # epochs without validation gain before stopping; None: never
    grad_clip: Rate | None = 5.0
    nan_policy: NanPolicy = "skip"  # skip a non-finite batch, or stop
    max_skipped_batches: Annotated[int, Field(ge=0)] = 50
    seed: Annotated[int, Field(ge=0)] = 0
    device: str = "cpu"


def _scheduler(optimizer, config: TrainingConfig, steps_per_epoch: int):
    total = max(config.epochs * steps_per_epoch, 1)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, total)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, config.learning_rate, total_steps=total
        )
    if config.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown schedule '{config.schedule}': use cosine, onecycle or constant")


def _batches(tensors: Sequence[torch.Tensor], index: np.ndarray, batch_size: int, device: str):
    for begin in range(0, len(index), batch_size):
        chosen = torch.as_tensor(index[begin : begin + batch_size])
        yield tuple(t[chosen].to(device) for t in tensors)


def _validation_loss(model, loss_fn, tensors, index, config) -> float:
    """Mean loss over the validation rows. Stochastic losses (diffusion noise levels,
    dequantisation noise) draw the same random numbers at every epoch, so that epochs are
    compared on the same draws (early stopping reacts to the model, not to the draw); the
    training stream of random numbers is left as it was."""
    if len(index) == 0:
        return float("nan")
    model.eval()
    total, count = 0.0, 0
    devices = [torch.device(config.device)] if config.device.startswith("cuda") else []
    with torch.no_grad(), torch.random.fork_rng(devices=devices):
        torch.manual_seed(config.seed + 1)
        for batch in _batches(tensors, index, config.batch_size * 4, config.device):
            loss = loss_fn(model, *batch)
            if torch.isfinite(loss):
                total += float(loss) * len(batch[0])
                count += len(batch[0])
    model.train()
    return total / max(count, 1)


def fit(
    model: torch.nn.Module,
    loss_fn: Callable,
    tensors: Sequence[torch.Tensor],
    config: TrainingConfig,
    run_dir=None,
    resume: bool = False,
    progress: bool = True,
    description: str = "training",
) -> dict:
    """Minimise ``loss_fn(model, *batch)`` over mini-batches of ``tensors``.

    The best model (lowest validation loss) is loaded into ``model`` at the end. With a
    ``run_dir``, ``checkpoint.pt`` is written atomically after every epoch. Returns the
    history: per-epoch train/validation loss, learning rate, seconds.

    Under ``torchrun`` (core.distributed) every rank trains on its shard of each global batch
    of ``config.batch_size`` rows and rank 0 alone writes the checkpoint.
    """
    config = _distributed_config(config)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model.to(config.device)
    n = len(tensors[0])
    order = rng.permutation(n)
    n_val = int(round(config.validation_fraction * n)) if n > 10 else 0
    val_index, train_index = order[:n_val], order[n_val:]
    steps_per_epoch = math.ceil(len(train_index) / config.batch_size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = _scheduler(optimizer, config, steps_per_epoch)
    state = {
        "epoch": 0,
        "best_val": math.inf,
        "best_state": None,
        "stale": 0,
        "history": [],
        "skipped": 0,
    }
    checkpoint = Path(run_dir) / "checkpoint.pt" if run_dir is not None else None
    if resume:
        state = _restore(checkpoint, model, optimizer, scheduler, rng, config) or state
    _seed_rank(config, state["epoch"])
    compute_loss = ddp.wrap_loss(model, loss_fn)
    model.train()
    bar = tqdm(
        total=config.epochs,
        initial=state["epoch"],
        desc=description,
        unit="epoch",
        disable=not progress or not ddp.is_main(),
    )
    while state["epoch"] < config.epochs:
        started = time.perf_counter()
        running, seen = 0.0, 0
        order = rng.permutation(train_index)  # drawn on every rank: the streams stay equal
        local_order, local_batch = _shard(order, train_index, config, state["epoch"])
        for batch in _batches(tensors, local_order, local_batch, config.device):
            loss = compute_loss(*batch)
            if not torch.isfinite(loss):
                state["skipped"] += 1
                if config.nan_policy == "stop" or state["skipped"] > config.max_skipped_batches:
                    raise TrainingDiverged(
                        f"non-finite loss at epoch {state['epoch'] + 1} ({state['skipped']} bad "
                        "batches): lower the learning rate, enable grad_clip, or check the data "
                        "for NaN/inf"
                    )
                optimizer.zero_grad(set_to_none=True)
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(batch[0])
            seen += len(batch[0])
        running, seen = ddp.all_sum([running, seen])
        train_loss = running / max(seen, 1)
        val_loss = _validation_loss(model, loss_fn, tensors, val_index, config)
        monitored = val_loss if n_val else train_loss
        state["epoch"] += 1
        state["history"].append(
            {
                "epoch": state["epoch"],
                "train_loss": train_loss,
                "val_loss": val_loss,
                "lr": scheduler.get_last_lr()[0],
                "seconds": time.perf_counter() - started,
            }
        )
        if monitored < state["best_val"]:
            state["best_val"] = monitored
            state["best_state"] = copy.deepcopy(model.state_dict())
            state["stale"] = 0
        else:
            state["stale"] += 1
        bar.update(1)
        bar.set_postfix(
            loss=f"{train_loss:.4g}",
            val=f"{val_loss:.4g}",
            samples_s=f"{seen / state['history'][-1]['seconds']:.0f}",
        )
        if checkpoint is not None:
            if ddp.is_main():
                _save_checkpoint(checkpoint, model, optimizer, scheduler, state, rng, config)
            ddp.barrier()
        if config.patience is not None and state["stale"] >= config.patience:
            break
    bar.close()
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.eval()
    return {
        "history": state["history"],
        "best_val_loss": state["best_val"],
        "epochs_run": state["epoch"],
        "skipped_batches": state["skipped"],
        "config": asdict(config),
    }


def _distributed_config(config):
    """The config of this rank under torchrun (its own GPU), after joining the group."""
    if not ddp.is_distributed():
        return config
    from dataclasses import replace

    config = replace(config, device=ddp.local_device(config.device))
    ddp.init(config.device)
    return config


def _seed_rank(config, epoch: int) -> None:
    """Under torchrun, each rank's own torch stream (noise levels, dequantisation) from
    (seed, rank, epoch): ranks draw independent numbers, and a resumed run reseeds them."""
    if ddp.is_distributed():
        words = np.random.SeedSequence([config.seed, ddp.rank(), epoch]).generate_state(
            1, np.uint64
        )
        torch.manual_seed(int(words[0] >> np.uint64(1)))


def _shard(order: np.ndarray, train_index: np.ndarray, config, epoch: int):
    """(rows of this rank in this epoch, local batch size): all rows and the batch size in one
    process; under torchrun a DistributedSampler's share of the epoch's permutation and
    batch_size // world rows a step, so that a step's global batch is batch_size rows."""
    if not ddp.is_distributed():
        return order, config.batch_size
    from torch.utils.data import DistributedSampler

    world = ddp.world_size()
    if config.batch_size < world:
        raise PhysgenInputError(
            f"batch_size {config.batch_size} is smaller than the {world} processes of torchrun: "
            "each process needs at least one row a step"
        )
    sampler = DistributedSampler(
        range(len(train_index)), num_replicas=world, rank=ddp.rank(), shuffle=False
    )
    sampler.set_epoch(epoch)
    return order[list(sampler)], config.batch_size // world


def _restore(checkpoint, model, optimizer, scheduler, rng, config, generators=None):
    """Load a checkpoint written by ``_save_checkpoint``; returns the loop state, or None.
    Every random stream of the loop is restored (numpy, torch's global CPU and CUDA states,
    and the caller's ``generators``), so a resumed run continues the uninterrupted one."""
    if checkpoint is None or not checkpoint.exists():
        return None
    try:
        saved = torch.load(checkpoint, map_location=config.device, weights_only=False)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
    except Exception as err:  # a truncated or foreign file: torch raises many kinds
        raise PhysgenInputError(
            f"{checkpoint}: cannot resume from this checkpoint ({type(err).__name__}: {err}); "
            "delete it to train from the start"
        ) from None
    rng.bit_generator.state = saved["numpy_rng"]
    torch.set_rng_state(saved["torch_rng"].cpu())
    if saved.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in saved["cuda_rng"]])
    for name, generator in (generators or {}).items():
        generator.set_state(saved["generators"][name].cpu())
    return saved["state"]


def _save_checkpoint(path, model, optimizer, scheduler, state, rng, config, generators=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    cuda = config.device.startswith("cuda") and torch.cuda.is_available()
    with atomic_path(path) as tmp:
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "state": state,
                "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if cuda else None,
                "generators": {k: g.get_state() for k, g in (generators or {}).items()},
                "config": asdict(config),
            },
            tmp,
        )


@settings
class StepConfig:
    """Training without a data set (e.g. reverse KL to a known density): a number of steps."""

    steps: Positive = 3000
    learning_rate: Rate = 1e-3
    schedule: Schedule = "constant"
    grad_clip: Rate | None = 1.0
    nan_policy: NanPolicy = "skip"
    max_skipped_batches: Annotated[int, Field(ge=0)] = 50
    checkpoint_every: Positive = 100
    seed: Annotated[int, Field(ge=0)] = 0
    device: str = "cpu"

    @property
    def epochs(self) -> int:  # the scheduler counts one "epoch" of `steps` steps
        return 1


def optimize(
    model: torch.nn.Module,
    step_loss: Callable[[int], tuple[torch.Tensor, dict]],
    config: StepConfig,
    run_dir=None,
    resume: bool = False,
    progress: bool = True,
    description: str = "optimizing",
    generators: dict[str, torch.Generator] | None = None,
) -> dict:
    """Minimise ``step_loss(step) -> (loss, metrics)`` for ``config.steps`` steps, with the same
    checkpointing, resume, NaN guard and progress bar as ``fit``. ``generators``: the random
    generators ``step_loss`` draws from, saved in the checkpoint so that a resume continues
    their streams. Returns the history. Under ``torchrun`` each rank computes its own loss
    (its own samples where ``step_loss`` draws from the global stream), the gradients are
    averaged by DDP, and rank 0 alone writes the checkpoint."""
    config = _distributed_config(config)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model.to(config.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = _scheduler(optimizer, config, config.steps)
    state = {"epoch": 0, "history": [], "skipped": 0}
    checkpoint = Path(run_dir) / "checkpoint.pt" if run_dir is not None else None
    if resume:
        state = _restore(checkpoint, model, optimizer, scheduler, rng, config, generators) or state
    _seed_rank(config, state["epoch"])
    last_metrics: dict = {}

    def loss_of(_, step):
        loss, metrics = step_loss(step)
        last_metrics.clear()
        last_metrics.update(metrics)
        return loss

    compute_loss = ddp.wrap_loss(model, loss_of)
    bar = tqdm(
        total=config.steps,
        initial=state["epoch"],
        desc=description,
        unit="step",
        disable=not progress or not ddp.is_main(),
    )
    started = time.perf_counter()
    while state["epoch"] < config.steps:
        loss = compute_loss(state["epoch"])
        metrics = dict(last_metrics)
        optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            state["skipped"] += 1
            if config.nan_policy == "stop" or state["skipped"] > config.max_skipped_batches:
                raise TrainingDiverged(
                    f"non-finite loss at step {state['epoch'] + 1}: lower the "
                    "learning rate or enable grad_clip"
                )
        else:
            loss.backward()
            if config.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            scheduler.step()
        state["epoch"] += 1
        state["history"].append({"step": state["epoch"], **metrics})
        bar.update(1)
        if state["epoch"] % 10 == 0:
            bar.set_postfix({k: f"{v:.5g}" for k, v in metrics.items()})
        if checkpoint is not None and (
            state["epoch"] % config.checkpoint_every == 0 or state["epoch"] == config.steps
        ):
            if ddp.is_main():
                _save_checkpoint(
                    checkpoint, model, optimizer, scheduler, state, rng, config, generators
                )
            ddp.barrier()
    bar.close()
    return {
        "history": state["history"],
        "steps": state["epoch"],
        "skipped": state["skipped"],
        "seconds": time.perf_counter() - started,
        "config": asdict(config),
    }
