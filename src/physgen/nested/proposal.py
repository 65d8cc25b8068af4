"""Generative proposals of the nested sampler, under the model contract (x: (n, dim) points of
the unit cube, no condition): a normalizing flow here, flow matching in nested.fm_proposal.

Both learn logit(u) (standardised) from the live points and map a latent standard normal to
it. The latent draws are truncated to a ball of radius r = ``radius_scale`` x the largest
latent radius of the live points (as nessai does): the ball covers the constrained region the
live points sample, with room beyond them, and bounds q from below, so that the sampler's
rejection on q_min / q (which turns proposal draws into uniform draws of the region) keeps a
useful share. ``draw`` returns points with the density q of the draws (the truncated latent
density, up to a normalisation that is the same for every point; -inf outside the ball).
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
from physgen.models.noise import RowNoise, seed_from
from physgen.models.preprocessing import Chain, Logit, Standardize

__all__ = ["FlowProposalConfig", "FlowProposal", "NestedProposal", "truncated_ball"]


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


def truncated_ball(noise, dim: int, radius: float, scale: float = 1.0) -> torch.Tensor:
    """Draws of N(0, scale^2 I) truncated to the ball of ``radius``: a uniform direction and a
    length from the chi distribution truncated to [0, r / scale] (inverse CDF), times scale."""
    direction = noise.normal(dim)
    direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
    top = float(stats.chi.cdf(radius / scale, dim))
    levels = noise.uniform(1)[:, 0].double().cpu().numpy() * top
    length = torch.as_tensor(scale * stats.chi.ppf(levels, dim), dtype=direction.dtype)
    return direction * length.to(direction.device)[:, None]


def truncated_log_normal(z: torch.Tensor, radius, scale: float = 1.0) -> torch.Tensor:
    """log N(z; 0, scale^2 I) inside the ball, -inf outside (unnormalised by its mass)."""
    d = z.shape[1]
    log_base = -0.5 * (z**2).sum(1) / scale**2 - d * math.log(scale * math.sqrt(2 * math.pi))
    return torch.where(z.norm(dim=1) <= radius, log_base, -math.inf)


class NestedProposal(ConditionalGenerator):
    """What the nested sampler asks of a proposal: ``fit`` on the live points, and ``draw``
    (points with their log-density). ``latent_scale`` widens the latent normal (draws and
    densities alike; not saved): > 1 reaches the edges of the region more often."""

    latent_scale = 1.0

    def _live_points(self, data) -> torch.Tensor:
        points = check_batch(data, "live points", self.n_features)
        if len(points) < 2 or points.min() < 0 or points.max() > 1:
            raise ValueError("the proposal trains on at least 2 points of the unit cube")
        return points

    def _train(self, module, loss, inputs: torch.Tensor, run) -> History:
        """The project's training loop on ``inputs`` (no condition), then the latent ball
        around the latent points of the training points."""
        checkpoints, resume, progress = Run.training_place(run, "proposal")
        history = train_unit(
            module,
            loss,
            (inputs, torch.zeros(len(inputs), 0)),
            self.config.training,
            checkpoints,
            resume=resume,
            progress=progress,
            description="proposal",
        )
        return {"proposal": history}

    def _fit_radius(self, points: torch.Tensor) -> None:
        z = self.latent(points)
        self.radius.fill_(float(z.norm(dim=1).max()) * self.config.radius_scale)
        self.to(self.config.training.device)

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        """The latent point of each x (the inverse of ``decode``)."""
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent points -> (x, log q(x)), q the density of the (truncated) draws."""
        raise NotImplementedError

    @torch.no_grad()
    def draw(self, size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``size`` draws and the log-density of the draws at them."""
        self.eval()
        noise = RowNoise(seed_from(generator), 0, size, self.device)
        return self.decode(self._latent_draws(noise))

    def _latent_draws(self, noise) -> torch.Tensor:
        return truncated_ball(noise, self.n_features, float(self.radius), self.latent_scale)

    def _sample(self, conditions, noise):
        return self.decode(self._latent_draws(noise))[0]


class FlowProposal(NestedProposal):
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
        points = self._live_points(data)
        self.cpu()
        self.flow.preprocessing.fit(points)
        history = self._train(
            self.flow, lambda flow, x, c: -flow.log_prob(x, c).mean(), points, run
        )
        self._fit_radius(points)
        return history

    @torch.no_grad()
    def latent(self, x):
        return self.flow.to_latent(x, torch.zeros(len(x), 0, device=x.device))[0]

    @torch.no_grad()
    def decode(self, z):
        x = self.flow.from_latent(z, torch.zeros(len(z), 0, device=z.device))
        return x, self.log_prob(x)

    def log_prob(self, x, conditions=None):
        points = check_batch(x, "points", self.n_features).to(self.device)
        empty = torch.zeros(len(points), 0, device=points.device)
        z, ladj = self.flow.to_latent(points, empty)
        return truncated_log_normal(z, self.radius, self.latent_scale) + ladj
