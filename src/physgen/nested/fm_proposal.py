"""A flow-matching proposal for the nested sampler (the diffusion-model family: a velocity field
learned on the Gaussian optimal-transport path, models.diffusion, sampled with the project's
midpoint ODE step, models.samplers).

Draws: a latent standard normal truncated to a ball (nested.proposal) carried from t = 1 to
t = 0 by ``steps`` midpoint steps. The density of the draws is exact for that discrete map:
each step's Jacobian I + dt J_v(half) (I + dt/2 J_v(x)) is formed from the velocity's
Jacobians (forward-mode, one per sample; cheap for the dimensions of nested sampling) and its
log-determinant subtracted, so the sampler's rejection to uniform needs no estimate of a
divergence. ``log_prob`` of a given point (the live points, for the rejection constant)
integrates the ODE backwards to find its latent point and evaluates the exact density there:
it is off by the solver's error (the backward steps do not invert the forward ones exactly).
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch.func import jacfwd, vmap

from physgen.core.config import settings
from physgen.core.training import TrainingConfig
from physgen.models.base import History, check_batch
from physgen.models.diffusion import (
    DenoiserConfig,
    ResidualMLP,
    VelocityField,
    flow_matching_loss,
)
from physgen.models.preprocessing import Chain, Logit, Standardize
from physgen.models.samplers import fm_midpoint_step, uniform_times
from physgen.nested.proposal import NestedProposal, truncated_log_normal

__all__ = ["FlowMatchingProposalConfig", "FlowMatchingProposal"]


@settings
class FlowMatchingProposalConfig:
    model: Literal["nested-flow-matching"] = "nested-flow-matching"
    dim: Annotated[int, Field(ge=1)] = 2
    network: DenoiserConfig = field(
        default_factory=lambda: DenoiserConfig(hidden=64, blocks=2, embedding=16)
    )
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=200, batch_size=128, learning_rate=3e-3, patience=20, validation_fraction=0.2
        )
    )
    steps: Annotated[int, Field(ge=1, le=64)] = 8  # midpoint steps from noise to data
    radius_scale: Annotated[float, Field(ge=1.0, le=3.0)] = 1.1


class FlowMatchingProposal(NestedProposal):
    name = "nested-flow-matching"
    config_class = FlowMatchingProposalConfig

    def __init__(self, config: FlowMatchingProposalConfig):
        super().__init__(config)
        self.n_features = config.dim
        self.preprocessing = Chain(Logit(1e-7), Standardize(config.dim))
        self.velocity = VelocityField(ResidualMLP(config.dim, 0, config.network))
        self.register_buffer("radius", torch.tensor(float("inf")))

    def _v(self, y, t):
        return self.velocity(y, t, torch.zeros(len(y), 0, device=y.device))

    def fit(self, data, conditions=None, run=None) -> History:
        """Train on points of the unit cube (the live points)."""
        points = self._live_points(data)
        self.cpu()
        self.preprocessing.fit(points)
        with torch.no_grad():
            y, _ = self.preprocessing(points)
        loss = lambda velocity, x, c: flow_matching_loss(velocity, x, c)  # noqa: E731
        history = self._train(self.velocity, loss, y, run)
        self._fit_radius(points)
        return history

    # --- the discrete map z -> y and its log-determinant ----------------------------------
    def _times(self, device):
        return uniform_times(self.config.steps, device=device).float()

    @torch.no_grad()
    def _backward(self, y: torch.Tensor) -> torch.Tensor:
        """Integrate data -> noise with the same steps reversed (an approximate inverse)."""
        times = self._times(y.device).flip(0)
        for i in range(len(times) - 1):
            t = times[i].expand(len(y))
            y = fm_midpoint_step(self._v, y, t, times[i + 1] - times[i])
        return y

    def _forward_with_log_det(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y = map(z) and log|det dy/dz| of the discrete midpoint map, exactly."""

        def one(y, t):  # the velocity at a single point, for per-sample Jacobians
            return self._v(y[None], t[None])[0]

        jacobian = vmap(jacfwd(one))
        eye = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        times = self._times(z.device)
        log_det = torch.zeros(len(z), dtype=torch.float64, device=z.device)
        y = z
        with torch.no_grad():
            for i in range(len(times) - 1):
                dt = times[i + 1] - times[i]
                t = times[i].expand(len(y))
                half = y + 0.5 * dt * self._v(y, t)
                # d/dy [y + dt v(half(y))] with half(y) = y + dt/2 v(y)
                step = eye + dt * jacobian(half, t + 0.5 * dt) @ (eye + 0.5 * dt * jacobian(y, t))
                log_det += torch.linalg.slogdet(step.double())[1]
                y = y + dt * self._v(half, t + 0.5 * dt)
        return y, log_det

    # --- the contract ---------------------------------------------------------------------
    @torch.no_grad()
    def latent(self, x):
        return self._backward(self.preprocessing(x)[0])

    @torch.no_grad()
    def decode(self, z):
        """Latent points -> x with the exact density of the discrete map."""
        y, log_det = self._forward_with_log_det(z)
        x = self.preprocessing.inverse(y)
        _, ladj = self.preprocessing(x)
        log_base = truncated_log_normal(z, self.radius, self.latent_scale).double()
        return x, log_base - log_det + ladj.double()

    @torch.no_grad()
    def log_prob(self, x, conditions=None):
        """The density at the decoded backward integration of x (off by the solver's error)."""
        points = check_batch(x, "points", self.n_features).to(self.device)
        y, ladj = self.preprocessing(points)
        z = self._backward(y)
        _, log_det = self._forward_with_log_det(z)
        log_base = truncated_log_normal(z, self.radius, self.latent_scale).double()
        return log_base - log_det + ladj.double()
