"""Data-parallel training under ``torchrun`` (PyTorch DDP), with no effect otherwise.

``torchrun --nproc_per_node=N physgen ... train ...`` starts N copies of the command with
``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` set. ``core.training.fit`` then joins them in one
process group (gloo on CPU, NCCL on CUDA, one GPU per local rank), shards every global batch
over the ranks (a ``DistributedSampler``), averages the gradients through
``DistributedDataParallel`` and lets rank 0 alone write checkpoints and the run folder
(``core.run.Run``); the others wait at a barrier. Without ``WORLD_SIZE`` > 1 nothing here
touches ``torch.distributed``.
"""

from __future__ import annotations

import atexit
import os

import torch

__all__ = [
    "world_size",
    "rank",
    "is_distributed",
    "is_main",
    "init",
    "barrier",
    "all_sum",
    "local_device",
    "DataParallelLoss",
    "wrap_loss",
]


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_distributed() -> bool:
    return world_size() > 1


def is_main() -> bool:
    return rank() == 0


def local_device(device: str) -> str:
    """The device of this rank: one GPU per local rank under torchrun."""
    if is_distributed() and device.startswith("cuda"):
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return device


def init(device: str = "cpu") -> None:
    """Join the process group of this torchrun launch (once)."""
    import torch.distributed as dist

    if not is_distributed() or dist.is_initialized():
        return
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.set_device(local_device(device))
    dist.init_process_group("nccl" if cuda else "gloo")
    atexit.register(_destroy)


def barrier() -> None:
    import torch.distributed as dist

    if is_distributed() and dist.is_initialized():
        dist.barrier()


def all_sum(values: list[float]) -> list[float]:
    """Element-wise sums over the ranks (the values themselves without torchrun)."""
    import torch.distributed as dist

    if not (is_distributed() and dist.is_initialized()):
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    if dist.get_backend() == "nccl":
        tensor = tensor.cuda()
    dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


class DataParallelLoss(torch.nn.Module):
    """``loss_fn(model, *batch)`` as a module, so that DDP sees the forward pass of losses
    that call model methods (``log_prob``, a denoiser) rather than ``model.forward``."""

    def __init__(self, model: torch.nn.Module, loss_fn):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, *batch):
        return self.loss_fn(self.model, *batch)


def wrap_loss(model: torch.nn.Module, loss_fn):
    """A callable ``(*batch) -> loss``: through DistributedDataParallel under torchrun (its
    backward averages the gradients over the ranks), the plain loss otherwise."""
    if not is_distributed():
        return lambda *batch: loss_fn(model, *batch)
    from torch.nn.parallel import DistributedDataParallel

    module = DataParallelLoss(model, loss_fn)
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)
