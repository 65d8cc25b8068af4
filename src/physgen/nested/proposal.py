"""The generative proposal of the nested sampler: a normalizing flow of the live points in the
unit cube, under the model contract (x: (n, dim) points of the unit cube, no condition).

The flow learns logit(u) (standardised) by maximum likelihood on the live points. Its latent
draws are a standard normal truncated to a ball of radius r = ``radius_scale`` x the largest
latent radius of the live points (as nessai does): the ball covers the constrained region the
live points sample, with room beyond them, and bounds q from below, so that the sampler's
rejection on q_min / q (which turns proposal draws into uniform draws of the region) keeps a
useful share. ``log_prob`` is that truncated density (up to its normalisation, the same for
every point; -inf outside the ball).
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Annotated, Literal

import torch
from pydantic import Field
from scipy import stats

from physgen.core.config import settings
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.core.training import fit as train_unit
from physgen.models.base import ConditionalGenerator, History, check_batch
from physgen.models.flows import ConditionalFlow, FlowConfig
from physgen.models.preprocessing import Chain, Logit, Standardize

__all__ = ["FlowProposalConfig", "FlowProposal"]


@settings
class FlowProposalConfig:
    model: Literal["nested-flow"] = "nested-flow"
    dim: Annotated[int, Field(ge=1)] = 2
    flow: FlowConfig = field(
        default_factory=lambda: FlowConfig(kind="coupling-rqs", transforms=4, hidden=(64, 64))
    )
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=60, batch_size=128, learning_rate=3e-3, patience=8, validation_fraction=0.2
        )
    )
    # latent ball radius / the largest latent radius of the live points
    radius_scale: Annotated[float, Field(ge=1.0, le=3.0)] = 1.1


class FlowProposal(ConditionalGenerator):
    name = "nested-flow"
    config_class = FlowProposalConfig

    def __init__(self, config: FlowProposalConfig):
        super().__init__(config)
        self.n_features = config.dim
        preprocessing = Chain(Logit(1e-7), Standardize(config.dim))
        self.flow = ConditionalFlow(
            config.dim, 0, config.flow, preprocessing, seed=config.training.seed
        )
        self.register_buffer("radius", torch.tensor(math.inf))

    def fit(self, data, conditions=None, run=None) -> History:
        """Train on points of the unit cube (the live points)."""
        points = check_batch(data, "live points", self.n_features)
        if len(points) < 2 or points.min() < 0 or points.max() > 1:
            raise ValueError("the proposal trains on at least 2 points of the unit cube")
        self.cpu()
        self.flow.preprocessing.fit(points)
        empty = torch.zeros(len(points), 0)
        checkpoints, resume, progress = Run.training_place(run, "proposal")
        history = train_unit(
            self.flow,
            lambda flow, x, c: -flow.log_prob(x, c).mean(),
            (points, empty),
            self.config.training,
            checkpoints,
            resume=resume,
            progress=progress,
            description="proposal",
        )
        with torch.no_grad():
            z, _ = self.flow.to_latent(points, empty)
        self.radius.fill_(float(z.norm(dim=1).max()) * self.config.radius_scale)
        self.to(self.config.training.device)
        return {"proposal": history}

    def _sample(self, conditions, noise):
        """A standard normal truncated to the ball: a uniform direction and a radius from the
        chi distribution truncated to [0, r] (inverse CDF), then the flow's inverse."""
        d = self.n_features
        direction = noise.normal(d)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        top = float(stats.chi.cdf(float(self.radius), d))
        levels = noise.uniform(1)[:, 0].double().cpu().numpy() * top
        radius = torch.as_tensor(stats.chi.ppf(levels, d), dtype=direction.dtype)
        z = direction * radius.to(direction.device)[:, None]
        return self.flow.from_latent(z, conditions)

    def log_prob(self, x, conditions=None):
        points = check_batch(x, "points", self.n_features).to(self.device)
        empty = torch.zeros(len(points), 0, device=points.device)
        z, ladj = self.flow.to_latent(points, empty)
        d = self.n_features
        log_base = -0.5 * (z**2).sum(1) - 0.5 * d * math.log(2 * math.pi)
        log_base = torch.where(z.norm(dim=1) <= self.radius, log_base, -math.inf)
        return log_base + ladj
