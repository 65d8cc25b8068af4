"""Annealed importance sampling (Neal 2001) from a base density q towards a target
t = p^alpha q^(1 - alpha), with Hamiltonian Monte Carlo transitions.

Intermediate densities log pi_b = log q + alpha b (log p - log q), b on a linear grid from 0 to
1; the log-weight of a chain is sum_k (b_k - b_{k-1}) alpha (log p - log q)(x_{k-1}), and
after each weight update one HMC move (``leapfrog_steps`` steps, identity mass in coordinates
scaled by the base samples' standard deviation) leaves pi_{b_k} invariant. alpha = 1 gives
samples of p with weights whose mean is Z_p / Z_q; alpha = 2 the minimum-variance importance
density p^2 / q that FAB trains on (Midgley et al., arXiv:2208.01893).

Each transition keeps its own step size, adapted between runs (never within one, so every
run is exact AIS) towards ``target_acceptance``. A proposal with a non-finite log-density
(outside the target's support) or a non-finite gradient is rejected.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

import torch
from pydantic import Field

from physgen.core.config import settings

__all__ = ["AISConfig", "AnnealedImportanceSampler"]

LogDensity = Callable[[torch.Tensor], torch.Tensor]


@settings
class AISConfig:
    intermediate: Annotated[int, Field(ge=1)] = 2  # transitions between q and the target
    leapfrog_steps: Annotated[int, Field(ge=1)] = 5
    step_size: Annotated[float, Field(gt=0)] = 0.5  # initial, in units of the base's spread
    target_acceptance: Annotated[float, Field(gt=0, lt=1)] = 0.65
    adapt: bool = True


def _parts(log_q: LogDensity, log_p: LogDensity, x: torch.Tensor):
    """(log p, log q, grad log p, grad log q, broken) at ``x``: one target call with its
    gradient; ``broken`` marks rows whose gradients are not finite."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        lp, lq = log_p(x), log_q(x)
        (gp,) = torch.autograd.grad(lp.sum(), x)
        (gq,) = torch.autograd.grad(lq.sum(), x)
    bad = ~(torch.isfinite(gp).all(1) & torch.isfinite(gq).all(1))
    gp = torch.where(bad[:, None], torch.zeros_like(gp), gp)
    gq = torch.where(bad[:, None], torch.zeros_like(gq), gq)
    return lp.detach(), lq.detach(), gp, gq, bad


class AnnealedImportanceSampler:
    def __init__(self, config: AISConfig | None = None):
        self.config = config or AISConfig()
        self.step_sizes = torch.full((self.config.intermediate,), self.config.step_size)
        self.acceptance = torch.zeros(self.config.intermediate)
        self.target_calls = 0  # rows evaluated by the target (with gradient) so far

    def _hmc(self, parts, state, weight, scale, step_size, generator):
        """One HMC move invariant for log q + weight (log p - log q); ``state`` is
        (x, log p, log q, grad log p, grad log q) and is returned moved, with the accepted
        rows."""
        x, lp, lq, gp, gq = state

        def log_pi(p_, q_):
            return q_ + weight * (p_ - q_)

        momentum = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        r = momentum + 0.5 * step_size * scale * log_pi(gp, gq)
        y, new = x, state[1:]
        broken = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for step in range(self.config.leapfrog_steps):
            y = y + step_size * scale * r
            *new, bad = parts(y)
            self.target_calls += len(y)
            broken |= bad
            last = step == self.config.leapfrog_steps - 1
            r = r + (0.5 if last else 1.0) * step_size * scale * log_pi(new[2], new[3])
        new_value, value = log_pi(new[0], new[1]), log_pi(lp, lq)
        log_ratio = new_value - value - 0.5 * (r.square().sum(1) - momentum.square().sum(1))
        log_ratio = torch.where(torch.isfinite(new_value) & ~broken, log_ratio, -math.inf)
        log_ratio = torch.nan_to_num(log_ratio, nan=-math.inf)
        uniform = torch.rand(len(x), generator=generator, device=x.device, dtype=x.dtype)
        accept = torch.log(uniform) < log_ratio
        moved = tuple(
            torch.where(accept[:, None] if a.dim() == 2 else accept, b, a)
            for a, b in zip(state, (y, *new), strict=True)
        )
        return moved, accept

    def run(
        self,
        x: torch.Tensor,
        log_q: LogDensity,
        log_p: LogDensity,
        alpha: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Chains started at base samples ``x`` (n, d); returns their end points and
        log-weights (n,) for the target p^alpha q^(1 - alpha)."""
        config = self.config
        k = config.intermediate
        betas = torch.linspace(0, 1, k + 1).tolist()
        scale = x.detach().std(0).clamp_min(1e-6) if len(x) > 1 else torch.ones_like(x[0])
        *state, _ = _parts(log_q, log_p, x)
        self.target_calls += len(x)
        state = (x.detach(), *state)
        log_w = torch.zeros(len(x), dtype=x.dtype, device=x.device)
        acceptance = torch.zeros(k)
        for index in range(1, k + 1):
            log_w = log_w + (betas[index] - betas[index - 1]) * alpha * (state[1] - state[2])
            state, accepted = self._hmc(
                lambda y: _parts(log_q, log_p, y),
                state,
                alpha * betas[index],
                scale,
                float(self.step_sizes[index - 1]),
                generator,
            )
            acceptance[index - 1] = accepted.float().mean().item()
        self.acceptance = acceptance
        if config.adapt:
            factor = torch.where(acceptance > config.target_acceptance, 1.1, 1 / 1.1)
            self.step_sizes = (self.step_sizes * factor).clamp(1e-4, 10.0)
        return state[0], torch.nan_to_num(log_w, nan=-math.inf)

    def state_dict(self) -> dict:
        return {"step_sizes": self.step_sizes.clone(), "target_calls": self.target_calls}

    def load_state_dict(self, state: dict) -> None:
        self.step_sizes = state["step_sizes"].clone()
        self.target_calls = int(state.get("target_calls", 0))
