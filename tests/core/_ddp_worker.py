"""Run by tests/core/test_distributed.py under torchrun: one DDP step of a small flow on this
rank's shard of a global batch; rank 0 saves the gradients."""

import sys

import numpy as np
import torch

from physgen.core import distributed as ddp
from physgen.core.training import TrainingConfig, _distributed_config, _shard
from physgen.models.flows import ConditionalFlow, FlowConfig

GLOBAL_BATCH = 64


def problem():
    torch.manual_seed(0)
    flow = ConditionalFlow(4, 1, FlowConfig(transforms=2, hidden=(16,), bins=4), seed=1)
    for p in flow.parameters():  # leave the identity start: every gradient non-zero
        torch.nn.init.normal_(p, std=0.1)
    rng = np.random.default_rng(2)
    x = torch.as_tensor(rng.standard_normal((GLOBAL_BATCH, 4)), dtype=torch.float32)
    c = torch.as_tensor(rng.standard_normal((GLOBAL_BATCH, 1)), dtype=torch.float32)
    return flow, x, c


def loss_fn(model, x, c):
    return -model.log_prob(x, c).mean()


if __name__ == "__main__":
    config = _distributed_config(TrainingConfig(batch_size=GLOBAL_BATCH))
    flow, x, c = problem()
    rows = np.arange(GLOBAL_BATCH)
    local, local_batch = _shard(rows, rows, config, epoch=0)
    chosen = torch.as_tensor(local[:local_batch])
    compute_loss = ddp.wrap_loss(flow, loss_fn)  # held: DDP's backward needs the wrapper alive
    loss = compute_loss(x[chosen], c[chosen])
    loss.backward()
    if ddp.is_main():
        torch.save({n: p.grad for n, p in flow.named_parameters()}, sys.argv[1])
    ddp.barrier()
