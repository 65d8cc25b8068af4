"""Neural conditional partition functions of a torus half, for the mutual information at
sizes beyond the transfer matrix (Bialas, Korcyl and Stebel, arXiv:2304.13412).

On the L x L torus cut into A (rows 0..H-1) and B (rows H..L-1), H = L/2, the conditional
partition function of A's configuration is Z(a) = exp(-beta E_A(a)) W(a_0, a_{H-1}), with
W(x, y) = sum_b exp(-beta E_strip(b; x, y)) the weight of the other half, an H x L strip
(periodic along rows) whose last row touches x and whose first row touches y; the same W
serves Z(b). A conditional sampler q(b | x, y) (a one-layer VAN with boundary-dependent
biases, or the hierarchical strip sampler of physgen.models.hierarchical for large L) is
trained by reverse KL over boundaries drawn from the full-torus sampler (a baseline per
boundary), and
ln W(x, y) = ln mean_k exp(-beta E_strip(b_k) - ln q(b_k | x, y)) over K draws, corrected for
the O(1/K) bias of the logarithm by + (mean w^2 / mean(w)^2 - 1) / (2K).
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Annotated, Literal

import torch
from pydantic import Field

from physgen.core.config import settings
from physgen.core.run import Run
from physgen.core.training import StepConfig, optimize
from physgen.lattice.mutual_information import half_internal_energy
from physgen.models.base import ConditionalGenerator, History, check_batch
from physgen.models.hierarchical import ConditionalMADE, HierarchicalStripSampler
from physgen.models.noise import uniform

__all__ = [
    "ConditionalStripSampler",
    "StripConfig",
    "StripSampler",
    "boundary_pool",
    "build_strip_sampler",
    "neural_conditional_log_z",
    "neural_strip_log_weights",
    "strip_energy",
    "train_strip_sampler",
]


class StripSampler(ConditionalMADE):
    """q(b | x, y) over the H x L strip's bits given the 2 L boundary bits (x, then y)."""

    def __init__(self, L: int):
        if L % 2 or L < 4:
            raise ValueError("the torus halves need an even L >= 4")
        super().__init__(2 * L, (L // 2) * L, 2)
        self.L = L

    def sample_strip(self, boundary_bits: torch.Tensor, generator=None) -> torch.Tensor:
        return self.sample_bits(boundary_bits, generator)

    def log_prob_strip(self, bits: torch.Tensor, boundary_bits: torch.Tensor) -> torch.Tensor:
        return self.log_prob_bits(bits.long(), boundary_bits)


def strip_energy(strip_pm: torch.Tensor, x_pm: torch.Tensor, y_pm: torch.Tensor, J: float = 1.0):
    """E_strip(b; x, y) for (n, H, L) strip spins and (n, L) boundary rows, -1/+1."""
    strip = strip_pm.double()
    contact = (strip[:, -1] * x_pm.double()).sum(1) + (strip[:, 0] * y_pm.double()).sum(1)
    return half_internal_energy(strip, J) - J * contact


def boundary_pool(spins_pm: torch.Tensor) -> torch.Tensor:
    """(2n, 2L) boundary bits (x, y) of both halves of (n, L, L) torus configurations:
    (a_0, a_{H-1}) for Z(a) and (b_0, b_{H-1}) = (s_H, s_{L-1}) for Z(b)."""
    half = spins_pm.shape[1] // 2
    of_a = torch.cat([spins_pm[:, 0], spins_pm[:, half - 1]], dim=1)
    of_b = torch.cat([spins_pm[:, half], spins_pm[:, -1]], dim=1)
    return (torch.cat([of_a, of_b]) > 0).long()


def _strip_draws(sampler, boundary_bits, J, generator):
    """One strip per boundary row: (ln q, E_strip)."""
    L, half = sampler.L, sampler.L // 2
    bits = sampler.sample_strip(boundary_bits, generator)
    log_q = sampler.log_prob_strip(bits, boundary_bits)
    boundary_pm = 2 * boundary_bits - 1
    energy = strip_energy(
        (2 * bits - 1).view(-1, half, L), boundary_pm[:, :L], boundary_pm[:, L:], J
    )
    return log_q, energy


def build_strip_sampler(L: int, network: str = "made"):
    """The conditional strip sampler: a one-layer VAN ("made") or hierarchical ("han")."""
    if network == "made":
        return StripSampler(L)
    if network == "han":
        return HierarchicalStripSampler(L)
    raise ValueError(f"unknown strip network '{network}': made or han")


@settings
class StripConfig:
    model: Literal["lattice-strip"] = "lattice-strip"
    L: Annotated[int, Field(ge=4, multiple_of=2)] = 16
    beta: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.4406868
    network: Literal["made", "han"] = "made"
    J: float = 1.0
    boundaries_per_step: Annotated[int, Field(ge=1)] = 100
    draws_per_boundary: Annotated[int, Field(ge=2)] = 10
    annealing: Annotated[float, Field(ge=0, lt=1)] = 0.998
    optimizer: StepConfig = field(default_factory=StepConfig)


class ConditionalStripSampler(ConditionalGenerator):
    """q(strip | boundary) under the model contract: x is (batch, H L) strip bits as float32,
    the condition (batch, 2 L) boundary bits (x, then y); ``log_prob`` is exact. ``fit`` trains
    by reverse KL to the strip's Boltzmann weight over the boundaries given as conditions."""

    name = "lattice-strip"
    config_class = StripConfig

    def __init__(self, config: StripConfig):
        super().__init__(config)
        self.net = build_strip_sampler(config.L, config.network)
        self.n_conditions, self.n_features = 2 * config.L, (config.L // 2) * config.L

    @staticmethod
    def seed_of(config) -> int:
        return config.optimizer.seed

    def fit(self, data=None, conditions=None, run=None) -> History:
        """``conditions``: the pool of boundaries (rows of ``boundary_pool``) to train over;
        ``data`` is not used (the target is the strip's Boltzmann weight)."""
        pool = check_batch(conditions, "boundaries", self.n_conditions).long()
        config = self.config
        self.to(config.optimizer.device)
        pool = pool.to(config.optimizer.device)
        generator = torch.Generator(device=config.optimizer.device).manual_seed(
            config.optimizer.seed
        )
        per_step = config.boundaries_per_step

        def step_loss(step: int):
            beta_t = config.beta * (1 - config.annealing ** (step + 1))
            u = uniform(generator, (per_step,), pool.device)
            chosen = (u * len(pool)).long().clamp_max(len(pool) - 1)
            boundaries = pool[chosen].repeat_interleave(config.draws_per_boundary, dim=0)
            log_q, energy = _strip_draws(self.net, boundaries, config.J, generator)
            with torch.no_grad():
                signal = (log_q.double() + beta_t * energy).view(per_step, -1)
                advantage = (signal - signal.mean(1, keepdim=True)).flatten().float()
            loss = (advantage * log_q).mean()
            free_energy = signal.mean().item() / beta_t
            return loss, {"beta": beta_t, "free_energy_per_boundary": free_energy}

        history = optimize(
            self.net,
            step_loss,
            config.optimizer,
            *Run.training_place(run, "strip"),
            f"strip L={config.L}",
            generators={"sampling": generator},
        )
        self.eval()
        return {"strip": history}

    def _sample(self, conditions, noise):
        return self.net.sample_strip(conditions.long(), noise).float()

    def log_prob(self, x, conditions):
        bits = check_batch(x, "strip bits", self.n_features).to(self.device).long()
        boundary = check_batch(conditions, "boundaries", self.n_conditions).to(self.device)
        return self.net.log_prob_strip(bits, boundary.long())


def train_strip_sampler(
    pool: torch.Tensor,
    L: int,
    beta: float,
    config: StepConfig,
    network: str = "made",
    boundaries_per_step: int = 100,
    draws_per_boundary: int = 10,
    annealing: float = 0.998,
    J: float = 1.0,
    run_dir=None,
    progress: bool = True,
):
    """Reverse KL averaged over boundaries of ``pool`` (rows of ``boundary_pool``); returns
    (the sampler's network, history)."""

    model = ConditionalStripSampler.from_config(
        StripConfig(
            L=L,
            beta=beta,
            network=network,
            J=J,
            boundaries_per_step=boundaries_per_step,
            draws_per_boundary=draws_per_boundary,
            annealing=annealing,
            optimizer=config,
        )
    )
    history = model.fit(None, pool, Run(run_dir, False, progress))["strip"]
    return model.net, history


def neural_strip_log_weights(
    sampler,
    boundary_bits: torch.Tensor,
    beta: float,
    draws: int = 64,
    J: float = 1.0,
    chunk: int = 20_000,
    seed: int = 0,
) -> torch.Tensor:
    """ln W(x, y) for each boundary row (bias-corrected NIS with ``draws`` samples each)."""
    generator = torch.Generator().manual_seed(seed)
    per_chunk = max(chunk // draws, 1)
    result = []
    with torch.no_grad():
        for begin in range(0, len(boundary_bits), per_chunk):
            block = boundary_bits[begin : begin + per_chunk]
            repeated = block.repeat_interleave(draws, dim=0)
            log_q, energy = _strip_draws(sampler, repeated, J, generator)
            log_w = (-beta * energy - log_q.double()).view(len(block), draws)
            log_mean = torch.logsumexp(log_w, 1) - math.log(draws)
            relative = torch.exp(log_w - log_mean[:, None])
            result.append(log_mean + ((relative**2).mean(1) - 1) / (2 * draws))
    return torch.cat(result)


def neural_conditional_log_z(sampler, beta: float, draws: int = 64, J: float = 1.0, seed: int = 0):
    """ln Z(a), ln Z(b) functions of (n, L, L) -1/+1 configurations, in the form of
    ``mutual_information.exact_conditional_log_z``."""
    half = sampler.L // 2

    def log_z(part: torch.Tensor, offset: int) -> torch.Tensor:
        bits = (torch.cat([part[:, 0], part[:, -1]], dim=1) > 0).long()
        log_w = neural_strip_log_weights(sampler, bits, beta, draws, J, seed=seed + offset)
        return -beta * half_internal_energy(part, J) + log_w

    return (lambda spins: log_z(spins[:, :half], 0)), (lambda spins: log_z(spins[:, half:], 1))
