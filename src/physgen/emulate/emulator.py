"""The emulator of a simulator's summaries, under the conditional-generator contract: x is the
summary vector, the condition the simulator's parameters (physical values; mapped inside to
[-1, 1] by the parameter bounds, summaries standardised by the training data).

A committee (models.committee) of K members makes p(x | theta) an equal mixture of K
Gaussians, one per member (its mean, its noise scale per summary): ``sample`` draws a member
and its noise, ``log_prob`` is the mixture density. ``predict`` gives what active learning
and fits use: the committee mean, the covariance of the members' means (the emulator's own
uncertainty) and the disagreement that drives the queries.
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
from physgen.core.training import TrainingConfig
from physgen.core.training import fit as train_unit
from physgen.models.base import ConditionalGenerator, History, check_batch
from physgen.models.committee import Committee, CommitteeConfig

__all__ = ["EmulatorConfig", "Emulator", "Prediction"]


@settings
class EmulatorConfig:
    model: Literal["committee-emulator"] = "committee-emulator"
    lower: tuple[float, ...] = (0.0,)  # parameter bounds
    upper: tuple[float, ...] = (1.0,)
    n_summaries: Annotated[int, Field(ge=1)] = 1
    committee: CommitteeConfig = field(default_factory=CommitteeConfig)
    steps: Annotated[int, Field(ge=1)] = 5000  # optimizer steps, whatever the data size
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            batch_size=128,
            learning_rate=1e-2,
            weight_decay=1e-4,
            validation_fraction=0.0,
            patience=None,
        )
    )


class Prediction:
    """The committee's view of the summaries at some parameter points (physical units)."""

    def __init__(self, members: torch.Tensor, summary_std: torch.Tensor):
        self.members = members  # (K, n, summaries)
        self.mean = members.mean(0)
        centred = members - self.mean
        k = members.shape[0]
        self.covariance = torch.einsum("kni,knj->nij", centred, centred) / (k - 1)
        # the query score: members' variance in units of the summaries' spread, averaged
        self.disagreement = (centred / summary_std).square().sum(0).mean(1) / (k - 1)


class Emulator(ConditionalGenerator):
    name = "committee-emulator"
    config_class = EmulatorConfig

    def __init__(self, config: EmulatorConfig | None = None):
        super().__init__(config or EmulatorConfig())
        config = self.config
        if len(config.lower) != len(config.upper):
            raise PhysgenInputError("the emulator needs as many lower as upper bounds")
        if any(hi <= lo for lo, hi in zip(config.lower, config.upper, strict=True)):
            raise PhysgenInputError(f"empty parameter bounds {config.lower} .. {config.upper}")
        self.n_conditions, self.n_features = len(config.lower), config.n_summaries
        self.committee = Committee(self.n_conditions, self.n_features, config.committee)
        self.register_buffer("lower", torch.tensor(config.lower, dtype=torch.float32))
        self.register_buffer("upper", torch.tensor(config.upper, dtype=torch.float32))
        self.register_buffer("y_mean", torch.zeros(self.n_features))
        self.register_buffer("y_std", torch.ones(self.n_features))

    def _inputs(self, parameters: torch.Tensor) -> torch.Tensor:
        return 2 * (parameters - self.lower) / (self.upper - self.lower) - 1

    def fit(self, data, conditions, run=None) -> History:
        """Train on simulated ``data`` (summaries) at the parameter points ``conditions``."""
        summaries = check_batch(data, "summaries", self.n_features)
        parameters = check_batch(conditions, "parameters", self.n_conditions)
        if len(summaries) != len(parameters) or len(summaries) < 2:
            raise PhysgenInputError(
                f"the emulator needs at least 2 (parameters, summaries) pairs of equal count, "
                f"got {len(parameters)} and {len(summaries)}"
            )
        if not (torch.isfinite(summaries).all() and torch.isfinite(parameters).all()):
            raise PhysgenInputError("the training summaries or parameters hold NaN or inf")
        self.cpu()
        self.y_mean.copy_(summaries.mean(0))
        self.y_std.copy_(summaries.std(0).clamp_min(1e-12))
        x = self._inputs(parameters)
        y = (summaries - self.y_mean) / self.y_std
        training = self.config.training
        generator = torch.Generator().manual_seed(training.seed)
        weights = self.committee.row_weights(len(x), generator)
        steps_per_epoch = math.ceil(len(x) / training.batch_size)
        training = replace(training, epochs=math.ceil(self.config.steps / steps_per_epoch))
        checkpoints, resume, progress = Run.training_place(run, "committee")
        history = train_unit(
            self.committee,
            lambda model, xb, yb, wb: model.loss(xb, yb, wb),
            (x, y, weights),
            training,
            checkpoints,
            resume=resume,
            progress=progress,
            description="committee",
        )
        self.to(training.device)
        return {"committee": history}

    @torch.no_grad()
    def predict(self, parameters) -> Prediction:
        """The committee at ``parameters`` (n, d): members' means in physical units."""
        self.eval()
        parameters = check_batch(parameters, "parameters", self.n_conditions).to(self.device)
        standardised = self.committee(self._inputs(parameters))
        return Prediction(standardised * self.y_std + self.y_mean, self.y_std)

    def _members_and_scales(self, conditions):
        members = self.committee(self._inputs(conditions)) * self.y_std + self.y_mean
        return members, self.committee.scale() * self.y_std  # (K, n, s), (K, 1, s)

    def _sample(self, conditions, noise):
        members, scales = self._members_and_scales(conditions)
        k = members.shape[0]
        pick = (noise.uniform(1)[:, 0] * k).long().clamp_max(k - 1)
        rows = torch.arange(len(conditions), device=conditions.device)
        mean = members[pick, rows]
        return mean + scales[pick, 0] * noise.normal(self.n_features)

    def log_prob(self, x, conditions):
        x = check_batch(x, "summaries", self.n_features).to(self.device)
        conditions = check_batch(conditions, "parameters", self.n_conditions).to(self.device)
        members, scales = self._members_and_scales(conditions)
        z = (x.unsqueeze(0) - members) / scales
        per_member = (
            -0.5 * z.square().sum(2)
            - scales.log().sum(2)
            - 0.5 * self.n_features * (math.log(2 * math.pi))
        )
        return torch.logsumexp(per_member, 0) - math.log(members.shape[0])

    @staticmethod
    def seed_of(config) -> int:
        return config.training.seed


def emulator_config(bounds: np.ndarray, n_summaries: int, **changes) -> EmulatorConfig:
    """An emulator config for parameters within ``bounds`` (d, 2)."""
    bounds = np.asarray(bounds, dtype=float)
    return EmulatorConfig(
        lower=tuple(bounds[:, 0]), upper=tuple(bounds[:, 1]), n_summaries=n_summaries, **changes
    )
