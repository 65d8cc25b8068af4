"""A normalizing flow trained to sample and integrate a known density, under the model
contract (x: (n, dim) points, no condition; ``log_prob`` is the flow's exact density).

``fit(target)`` trains by ``method`` until ``budget`` target evaluations are spent:
``reverse-kl``, ``nis`` or ``fab`` (models.density_training; FAB's AIS in models.ais). The
flow acts on the box standardised to [-3, 3] (spline range +-5), so one configuration fits
targets of any scale; for a target that exists on its box only (``bounded``: phase space) it
acts on the probit of the box's unit coordinates (an untrained flow is then the uniform
density), so that no draw falls outside. Otherwise
training uses the target's density on all of R^d (its box cuts only the integral), so early
flow draws outside the box still get a gradient.
"""

from __future__ import annotations

import math
from dataclasses import field, replace
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field

from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import StepConfig, optimize
from physgen.integrate.targets import Target
from physgen.metrics.importance import importance_estimates
from physgen.models.ais import AISConfig, AnnealedImportanceSampler
from physgen.models.base import ConditionalGenerator, History, check_batch
from physgen.models.density_training import ReplayBuffer, nis_loss, reverse_kl_loss
from physgen.models.flows import ConditionalFlow, FlowConfig
from physgen.models.preprocessing import Chain, Probit, Standardize

__all__ = [
    "DensityFlowConfig",
    "DensityFlow",
    "evaluations_per_step",
    "draw_with_log_q",
    "weighted_draws",
    "estimate_from_weights",
    "estimate",
]

METHODS = ("fab", "reverse-kl", "nis")


@settings
class DensityFlowConfig:
    model: Literal["density-flow"] = "density-flow"
    target: str = "gmm-40"  # a name of integrate.targets or FILE.py:FUNCTION
    lower: tuple[float, ...] = (-1.0,)  # the target's box (set from the target at training)
    upper: tuple[float, ...] = (1.0,)
    # True: the target lives on its box only (phase space): the flow maps R^d onto the box
    # through a probit, so every draw is inside; False: the box standardised to [-3, 3]
    bounded: bool = False
    method: Literal["fab", "reverse-kl", "nis"] = "fab"
    budget: Annotated[int, Field(ge=1)] = 1_000_000  # target evaluations for training
    batch_size: Annotated[int, Field(ge=2)] = 512
    flow: FlowConfig = field(
        default_factory=lambda: FlowConfig(kind="coupling-rqs", transforms=6, hidden=(64, 64))
    )
    ais: AISConfig = field(default_factory=AISConfig)
    buffer_capacity: Annotated[int, Field(ge=2)] = 20_000
    buffer_updates: Annotated[int, Field(ge=1)] = 8  # FAB: gradient steps per AIS batch
    optimizer: StepConfig = field(
        default_factory=lambda: StepConfig(learning_rate=3e-4, checkpoint_every=200)
    )


def evaluations_per_step(config: DensityFlowConfig) -> float:
    """Target evaluations one optimizer step costs on average."""
    if config.method != "fab":
        return float(config.batch_size)
    per_ais = config.batch_size * (1 + config.ais.intermediate * config.ais.leapfrog_steps)
    return per_ais / config.buffer_updates


class DensityFlow(ConditionalGenerator):
    name = "density-flow"
    config_class = DensityFlowConfig

    def __init__(self, config: DensityFlowConfig | None = None):
        super().__init__(config or DensityFlowConfig())
        config = self.config
        if len(config.lower) != len(config.upper):
            raise PhysgenInputError("the flow needs as many lower as upper bounds")
        self.n_features, self.n_conditions = len(config.lower), 0
        if self.n_features < 2:
            raise PhysgenInputError("the coupling flow needs at least 2 dimensions")
        lower = torch.tensor(config.lower, dtype=torch.float32)
        upper = torch.tensor(config.upper, dtype=torch.float32)
        scale = Standardize(self.n_features)
        if config.bounded:
            scale.mean.copy_(lower)
            scale.std.copy_(upper - lower)
            preprocessing = Chain(scale, Probit())
        else:
            scale.mean.copy_((lower + upper) / 2)
            scale.std.copy_((upper - lower) / 6)
            preprocessing = scale
        self.flow = ConditionalFlow(
            self.n_features, 0, config.flow, preprocessing=preprocessing, seed=config.optimizer.seed
        )

    @staticmethod
    def seed_of(config) -> int:
        return config.optimizer.seed

    def log_prob(self, x, conditions=None):
        x = check_batch(x, "points", self.n_features).to(self.device)
        return self.flow.log_prob(x)

    def _sample(self, conditions, noise):
        return self.flow.from_latent(noise.normal(self.n_features))

    def fit(self, data: Target, conditions=None, run=None) -> History:
        """Train towards ``data``, a target (integrate.targets.Target) on this flow's box."""
        target, config = data, self.config
        if target.dim != self.n_features:
            raise PhysgenInputError(
                f"target {target.name} has {target.dim} dimensions, the flow {self.n_features}"
            )
        steps = max(1, math.floor(config.budget / evaluations_per_step(config)))
        optimizer = replace(config.optimizer, steps=steps)
        device = optimizer.device
        self.to(device)
        generator = torch.Generator(device=device).manual_seed(config.optimizer.seed)
        calls = {"target": 0}

        def log_p(x):
            calls["target"] += len(x)
            return target._log_density(x)

        # the replay buffer lives on the CPU and draws from its own stream
        buffer_generator = torch.Generator().manual_seed(config.optimizer.seed + 1)
        step_loss = self._step_loss(config, log_p, generator, buffer_generator, device, calls)
        history = optimize(
            self.flow,
            step_loss,
            optimizer,
            *Run.training_place(run, "flow"),
            description=f"{config.method} {target.name}",
            generators={"sampling": generator, "buffer": buffer_generator},
        )
        self.eval()
        history["target_evaluations"] = calls["target"]
        return {"flow": history}

    def _step_loss(self, config, log_p, generator, buffer_generator, device, calls):
        flow, batch = self.flow, config.batch_size

        def latent():
            return torch.randn(batch, self.n_features, generator=generator, device=device)

        if config.method == "reverse-kl":

            def step_loss(step):
                x = flow.from_latent(latent())
                loss = reverse_kl_loss(x, flow.log_prob(x), log_p(x))
                return loss, {"reverse_kl": loss.item(), "target_evaluations": calls["target"]}

            return step_loss
        if config.method == "nis":

            def step_loss(step):
                with torch.no_grad():
                    x = flow.from_latent(latent())
                    lp = log_p(x)
                log_q = flow.log_prob(x)
                loss = nis_loss(log_q, lp)
                return loss, {"nis": loss.item(), "target_evaluations": calls["target"]}

            return step_loss
        ais = AnnealedImportanceSampler(config.ais)
        buffer = ReplayBuffer(self.n_features, config.buffer_capacity)

        def step_loss(step):
            if step % config.buffer_updates == 0 or len(buffer) == 0:
                with torch.no_grad():
                    start = flow.from_latent(latent())
                points, log_w = ais.run(start, flow.log_prob, log_p, 2.0, generator)
                with torch.no_grad():
                    buffer.add(points, log_w, flow.log_prob(points))
            index = buffer.sample(batch, buffer_generator)
            log_q = flow.log_prob(buffer.x[index].to(device))
            buffer.correct(index, log_q)
            loss = -log_q.mean()
            acceptance = float(ais.acceptance.mean())
            return loss, {"fab": loss.item(), "hmc_acceptance": acceptance,
                          "target_evaluations": calls["target"]}  # fmt: skip

        return step_loss


@torch.no_grad()
def draw_with_log_q(model: DensityFlow, n: int, seed: int, batch_size: int = 65536):
    """(x (n, d), log q (n,)) of ``n`` flow draws, seeded."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    xs, log_qs = [], []
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        z = torch.randn(size, model.n_features, generator=generator, device=model.device)
        x = model.flow.from_latent(z)
        xs.append(x)
        log_qs.append(model.flow.log_prob(x))
    return torch.cat(xs), torch.cat(log_qs)


def weighted_draws(model: DensityFlow, target: Target, n: int, seed: int):
    """(points (n, d) float64, log-weights log p - log q (n,)) of ``n`` seeded flow draws; a
    draw with a non-finite log q gets weight 0."""
    x, log_q = draw_with_log_q(model, n, seed)
    points = x.double()
    log_q = log_q.double().cpu().numpy()
    log_w = target.log_density(points).cpu().numpy() - log_q
    return points.cpu().numpy(), np.where(np.isfinite(log_q), log_w, -np.inf)


def estimate_from_weights(target: Target, log_w) -> dict:
    """Importance-sampling estimates of the target's integral over its box, with the exact
    value beside where it is known."""
    result = importance_estimates(log_w)
    if target.exact_log_z is not None:
        result["exact_log_z"] = target.exact_log_z
        result["log_z_minus_exact"] = result["log_z"] - target.exact_log_z
    result["target_evaluations"] = len(log_w)
    return result


def estimate(model: DensityFlow, target: Target, n: int, seed: int = 0) -> dict:
    """Importance-sampling estimates from ``n`` flow draws."""
    return estimate_from_weights(target, weighted_draws(model, target, n, seed)[1])
