"""Conditional normalizing flows p(x | c): coupling flows (affine or rational-quadratic
spline, on zuko's spline transform) and autoregressive flows (zuko's MAF / NSF).

Coupling flows invert in one pass, so they sample fast; autoregressive flows (MAF) give exact
densities with cheap training but sample one feature per pass; an inverse autoregressive flow
(IAF: the same network used the other way round) samples in one pass but needs one pass per
feature for a density, which is why it is trained by distillation from a MAF teacher
(``distillation_loss``, as in CaloFlow's teacher-student training). A flow optionally carries an
invertible preprocessing (models.preprocessing) applied before it, with its log-determinant,
so ``log_prob`` is the density of the original variables.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
import zuko
from pydantic import Field
from torch import nn

from physgen.core.config import settings
from physgen.models.noise import NoiseSource, normal

__all__ = ["FlowConfig", "CouplingLayer", "ConditionalFlow", "distillation_loss"]


@settings
class FlowConfig:
    kind: Literal["coupling-rqs", "coupling-affine", "maf", "nsf", "iaf"] = "coupling-rqs"
    transforms: Annotated[int, Field(ge=1)] = 6
    hidden: tuple[Annotated[int, Field(ge=1)], ...] = (256, 256)
    bins: Annotated[int, Field(ge=2)] = 8
    bound: Annotated[float, Field(gt=0)] = 5.0  # splines act on [-bound, bound]; identity outside


def _mlp(n_in: int, hidden: tuple[int, ...], n_out: int) -> nn.Sequential:
    layers, width = [], n_in
    for size in hidden:
        layers += [nn.Linear(width, size), nn.SiLU()]
        width = size
    last = nn.Linear(width, n_out)
    nn.init.zeros_(last.weight)  # every coupling layer starts as the identity
    nn.init.zeros_(last.bias)
    return nn.Sequential(*layers, last)


class CouplingLayer(nn.Module):
    """Transforms the features not in ``mask`` given the features in it and the context."""

    def __init__(self, mask: torch.Tensor, context: int, config: FlowConfig):
        super().__init__()
        self.register_buffer("kept", torch.nonzero(mask).squeeze(1))
        self.register_buffer("changed", torch.nonzero(~mask).squeeze(1))
        self.spline = config.kind == "coupling-rqs"
        self.bins, self.bound = config.bins, config.bound
        per_feature = 3 * config.bins - 1 if self.spline else 2
        self.net = _mlp(len(self.kept) + context, config.hidden, len(self.changed) * per_feature)

    def _transform(self, x_kept, context):
        params = self.net(torch.cat([x_kept, context], 1) if context is not None else x_kept)
        params = params.view(x_kept.shape[0], len(self.changed), -1)
        if self.spline:
            k = self.bins
            return zuko.transforms.MonotonicRQSTransform(
                params[..., :k], params[..., k : 2 * k], params[..., 2 * k :], bound=self.bound
            )
        log_scale = 2 * torch.tanh(params[..., 0] / 2)  # bounded scale keeps training stable
        # zuko takes the log-scale (it soft-clips it again); physgen <= 0.1.0 passed its exp,
        # so every affine layer could only stretch
        return zuko.transforms.MonotonicAffineTransform(params[..., 1], log_scale)

    def forward(self, x, context=None):
        transform = self._transform(x[:, self.kept], context)
        y_changed, ladj = transform.call_and_ladj(x[:, self.changed])
        y = x.clone()
        y[:, self.changed] = y_changed
        return y, ladj.sum(1)

    def inverse(self, y, context=None):
        transform = self._transform(y[:, self.kept], context)
        x = y.clone()
        x[:, self.changed] = transform.inv(y[:, self.changed])
        return x


class ConditionalFlow(nn.Module):
    """A normalizing flow for p(x | c) with an optional invertible preprocessing."""

    def __init__(
        self,
        features: int,
        context: int,
        config: FlowConfig = FlowConfig(),
        preprocessing: nn.Module | None = None,
        seed: int = 0,
    ):
        super().__init__()
        self.features, self.context, self.config = features, context, config
        self.preprocessing = preprocessing
        if config.kind.startswith("coupling"):
            generator = torch.Generator().manual_seed(seed)
            layers = []
            for index in range(config.transforms):
                if index % 2 == 0:  # a new random half every other layer, its complement next
                    mask = torch.zeros(features, dtype=torch.bool)
                    mask[torch.randperm(features, generator=generator)[: features // 2]] = True
                else:
                    mask = ~mask
                layers.append(CouplingLayer(mask, context, config))
            self.layers = nn.ModuleList(layers)
            self.autoregressive = None
        elif config.kind in ("maf", "nsf", "iaf"):
            build = zuko.flows.NSF if config.kind == "nsf" else zuko.flows.MAF
            extra = {"bins": config.bins} if config.kind == "nsf" else {}
            self.autoregressive = build(
                features,
                context,
                transforms=config.transforms,
                hidden_features=list(config.hidden),
                randperm=True,
                **extra,
            )
            self.layers = nn.ModuleList()
        else:
            raise ValueError(
                f"unknown flow kind '{config.kind}': coupling-rqs, coupling-affine, maf, nsf or iaf"
            )
        self.inverse_autoregressive = config.kind == "iaf"

    def to_latent(self, x: torch.Tensor, c: torch.Tensor | None = None):
        """x -> (z, log|det dz/dx|): preprocessing, then the flow's transforms."""
        ladj = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        if self.preprocessing is not None:
            x, ladj = self.preprocessing(x)
        if self.autoregressive is not None:
            transform = self.autoregressive(c).transform
            if self.inverse_autoregressive:
                transform = transform.inv
            z, flow_ladj = transform.call_and_ladj(x)
            return z, ladj + flow_ladj
        for layer in self.layers:
            x, layer_ladj = layer(x, c)
            ladj = ladj + layer_ladj
        return x, ladj

    def from_latent(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """The inverse of ``to_latent``."""
        y = self.flow_inverse(z, c)
        return self.preprocessing.inverse(y) if self.preprocessing is not None else y

    def flow_inverse(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Latent -> preprocessed variables (``from_latent`` without the preprocessing)."""
        if self.autoregressive is not None:
            transform = self.autoregressive(c).transform
            return transform(z) if self.inverse_autoregressive else transform.inv(z)
        y = z
        for layer in reversed(self.layers):
            y = layer.inverse(y, c)
        return y

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x | c) in the original (unpreprocessed) variables."""
        z, ladj = self.to_latent(x, c)
        return -0.5 * (z**2).sum(1) - 0.5 * self.features * math.log(2 * math.pi) + ladj

    @torch.no_grad()
    def sample(self, c: torch.Tensor, noise: NoiseSource = None) -> torch.Tensor:
        """One sample per row of ``c``; ``noise``: a generator or a models.noise source."""
        z = normal(noise, (c.shape[0], self.features), c.device, c.dtype)
        return self.from_latent(z, c)


def distillation_loss(teacher: ConditionalFlow, student: ConditionalFlow, x, c) -> torch.Tensor:
    """Teacher-student loss (CaloFlow, arXiv:2110.11377): data x goes to the teacher's latent z
    (one pass for a MAF), and the student must map z back to x in its fast direction (one pass
    for an IAF); mean squared error in the preprocessed variables. No slow teacher sampling is
    needed, and a perfect student reproduces the teacher's sampler exactly."""
    with torch.no_grad():
        z, _ = teacher.to_latent(x, c)
        target = teacher.preprocessing(x)[0] if teacher.preprocessing is not None else x
    return torch.mean((student.flow_inverse(z, c) - target) ** 2)
