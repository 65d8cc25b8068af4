"""Committees of regression networks: K predictions of y given x whose spread is the
committee's disagreement (query by committee).

- ``ensemble``: K independent MLPs (a deep ensemble, Lakshminarayanan et al. 2017), evaluated
  together as batched matrix products; each member sees its own bootstrap weights of the data
  (Poisson(1) per row), so that members disagree where the data are thin.
- ``dropout``: one MLP trained with dropout; its committee is K dropout masks drawn once and
  kept (query by dropout committee, Caron et al., EPJC 79 (2019) 944), so that the committee's
  predictions are deterministic and saved with the weights.

Every member also learns one noise scale per output (the spread of y about its mean, fitted
on the residuals with the mean held fixed, so that a shrinking scale never sharpens the
gradient of the mean). Inputs and outputs are whatever the caller standardised.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import torch
from pydantic import Field
from torch import nn

from physgen.core.config import settings

__all__ = ["CommitteeConfig", "Committee", "MIN_LOG_SCALE"]

MIN_LOG_SCALE = math.log(1e-4)  # noise scales below 1e-4 standard deviations are numerics


@settings
class CommitteeConfig:
    kind: Literal["ensemble", "dropout"] = "ensemble"
    members: Annotated[int, Field(ge=2)] = 8
    hidden: tuple[int, ...] = (64, 64)
    dropout: Annotated[float, Field(gt=0, lt=1)] = 0.1  # the dropout committee's rate
    # ensemble: Poisson(1) row weights per member (off: at a few hundred points the members
    # then underfit; random initialisation alone makes them disagree off the data)
    bootstrap: bool = False


class _BatchedLinear(nn.Module):
    """K independent linear maps applied at once: (K, n, in) -> (K, n, out)."""

    def __init__(self, members: int, n_in: int, n_out: int):
        super().__init__()
        bound = 1 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(members, 1, n_out).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class Committee(nn.Module):
    def __init__(self, n_inputs: int, n_outputs: int, config: CommitteeConfig | None = None):
        super().__init__()
        config = config or CommitteeConfig()
        self.n_inputs, self.n_outputs, self.config = n_inputs, n_outputs, config
        k = config.members
        widths = (n_inputs, *config.hidden, n_outputs)
        if config.kind == "ensemble":
            self.layers = nn.ModuleList(
                _BatchedLinear(k, a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
            )
        else:
            self.layers = nn.ModuleList(
                nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)
            )
            generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
            for index, width in enumerate(config.hidden):
                keep = torch.rand(k, 1, width, generator=generator) >= config.dropout
                self.register_buffer(f"mask{index}", keep.float() / (1 - config.dropout))
        self.log_scale = nn.Parameter(torch.full((k, 1, n_outputs), -1.0))

    @property
    def members(self) -> int:
        return self.config.members

    def _masks(self, n: int, device) -> list[torch.Tensor]:
        """The dropout masks of this pass: random ones in training, the committee's in eval."""
        if not self.training:
            return [getattr(self, f"mask{i}") for i in range(len(self.config.hidden))]
        rate = self.config.dropout
        return [
            (torch.rand(self.members, n, width, device=device) >= rate).float() / (1 - rate)
            for width in self.config.hidden
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The members' predictions of y for the rows of x: (K, n, outputs)."""
        h = x.unsqueeze(0).expand(self.members, *x.shape)
        if self.config.kind == "ensemble":
            for layer in self.layers[:-1]:
                h = nn.functional.silu(layer(h))
            return self.layers[-1](h)
        masks = self._masks(x.shape[0], x.device)
        for layer, mask in zip(self.layers[:-1], masks, strict=True):
            h = nn.functional.silu(layer(h)) * mask
        return self.layers[-1](h)

    def scale(self) -> torch.Tensor:
        """Each member's noise scale per output: (K, 1, outputs)."""
        return self.log_scale.clamp_min(MIN_LOG_SCALE).exp()

    def loss(self, x: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Weighted squared error of every member (``weights``: (n, K) row weights), plus the
        Gaussian negative log-likelihood of the noise scales on the detached residuals."""
        residual = y.unsqueeze(0) - self(x)  # (K, n, out)
        w = weights.T.unsqueeze(2)  # (K, n, 1)
        norm = w.sum().clamp_min(1e-12) * self.n_outputs / self.members
        squared = (w * residual.square()).sum() / norm
        log_scale = self.log_scale.clamp_min(MIN_LOG_SCALE)
        nll = w * (residual.detach().square() / (2 * (2 * log_scale).exp()) + log_scale)
        return squared + nll.sum() / norm

    def row_weights(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """(n, K) training weights: Poisson(1) bootstrap weights per member, or ones."""
        if self.config.kind == "ensemble" and self.config.bootstrap:
            return torch.poisson(torch.ones(n, self.members), generator=generator)
        return torch.ones(n, self.members)
