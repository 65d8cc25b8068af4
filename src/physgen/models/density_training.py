"""Losses that train a flow q towards a known unnormalised density p (no data):

- ``reverse_kl``: E_q[log q - log p] with reparameterised samples (mode-seeking; one target
  call per sample, gradient of p needed);
- ``nis``: neural importance sampling, the forward KL estimated with self-normalised weights
  w = p / q of the flow's own samples, -sum_i w_i log q(x_i) (mass-covering; no gradient of
  p needed);
- FAB (Midgley et al., arXiv:2208.01893): AIS from q towards p^2 / q (the alpha = 2
  divergence's minimiser) gives points and weights; a prioritised replay buffer keeps them and
  is sampled with probability proportional to the weights, the loss is -mean log q of that
  draw, and a used point's log-weight is then corrected by log q_old - log q_new, because the
  density it stands for, p^2 / q, moved with q.
"""

from __future__ import annotations

import torch

__all__ = ["reverse_kl_loss", "nis_loss", "ReplayBuffer"]


def reverse_kl_loss(x: torch.Tensor, log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """``x`` reparameterised flow samples with their log q (differentiable) and log p."""
    finite = torch.isfinite(log_p)
    return (log_q[finite] - log_p[finite]).mean()


def nis_loss(log_q: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    """``log_q`` of detached flow samples (differentiable in the flow's parameters)."""
    weights = torch.softmax((log_p - log_q).detach(), 0)
    return -(weights * log_q).sum()


class ReplayBuffer:
    """The last ``capacity`` AIS points with their log-weights and the log q they were
    weighted with; ``sample`` draws with probability proportional to the weights."""

    def __init__(self, dim: int, capacity: int):
        self.capacity = capacity
        self.x = torch.empty(0, dim)
        self.log_w = torch.empty(0)
        self.log_q = torch.empty(0)

    def __len__(self) -> int:
        return len(self.x)

    def add(self, x: torch.Tensor, log_w: torch.Tensor, log_q: torch.Tensor) -> None:
        keep = torch.isfinite(log_w) & torch.isfinite(log_q)
        self.x = torch.cat([self.x, x[keep].detach().cpu()])[-self.capacity :]
        self.log_w = torch.cat([self.log_w, log_w[keep].detach().cpu()])[-self.capacity :]
        self.log_q = torch.cat([self.log_q, log_q[keep].detach().cpu()])[-self.capacity :]

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        probabilities = torch.softmax(self.log_w, 0)
        return torch.multinomial(probabilities, n, replacement=True, generator=generator)

    def correct(self, index: torch.Tensor, log_q_new: torch.Tensor) -> None:
        """The weights of used points follow q: log w += log q_old - log q_new."""
        log_q_new = log_q_new.detach().cpu()
        unique, first = _first_occurrence(index)
        self.log_w[unique] += self.log_q[unique] - log_q_new[first]
        self.log_q[unique] = log_q_new[first]

    def state_dict(self) -> dict:
        return {"x": self.x, "log_w": self.log_w, "log_q": self.log_q}

    def load_state_dict(self, state: dict) -> None:
        self.x, self.log_w, self.log_q = state["x"], state["log_w"], state["log_q"]


def _first_occurrence(index: torch.Tensor):
    unique, inverse = torch.unique(index, return_inverse=True)
    first = torch.full((len(unique),), len(index), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(index)), reduce="amin")
    return unique, first
