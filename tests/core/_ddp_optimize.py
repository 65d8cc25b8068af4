"""Run by tests/core/test_distributed.py under torchrun: step-based training (`optimize`)
where each rank draws its own samples; every rank saves its final weights."""

import sys
from pathlib import Path

import torch

from physgen.core import distributed as ddp
from physgen.core.training import StepConfig, optimize

if __name__ == "__main__":
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)

    def step_loss(step):
        x = torch.randn(32, 3)  # this rank's own stream: (seed, rank, epoch)
        loss = ((model(x)[:, 0] - x.sum(1)) ** 2).mean()
        return loss, {"loss": float(loss)}

    out = Path(sys.argv[1])
    optimize(model, step_loss, StepConfig(steps=5, checkpoint_every=5), run_dir=out, progress=False)
    torch.save(model.state_dict(), out / f"weights{ddp.rank()}.pt")
    ddp.barrier()
