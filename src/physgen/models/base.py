"""The one contract every trainable physgen model implements: a conditional generator p(x | c).

Shape and dtype rules (checked at ``sample`` and ``log_prob``):
- ``x`` is (batch, features) and ``conditions`` is (batch, n_conditions), both float32 and
  batch first; an unconditional model takes conditions of shape (batch, 0).
- ``sample(conditions, generator)`` returns one row of x per row of conditions, on the
  model's device. The result for a given generator state does not depend on ``batch_size``
  (models draw their randomness through ``models.noise.RowNoise``).
- ``log_prob(x, conditions)`` is (batch,) float32; a model without a tractable density
  raises ``NoDensityError``.
- ``fit(data, conditions, run=None)`` trains in place and returns the history: one entry per
  trained unit. A model trained against a known density (lattice samplers, matrix elements)
  takes the target in place of ``data``.
- Models keep their preprocessing inside: a saved model takes and returns physical values.

Saving writes one payload (model name, config, weights, the model's extra state);
``physgen.registry`` maps the saved name back to its class. Subclasses set ``name`` and
``config_class`` and implement ``fit`` and ``_sample`` (and ``log_prob`` where defined).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from tqdm import tqdm

from physgen.core.atomic import atomic_path
from physgen.core.config import from_dict
from physgen.core.errors import PhysgenInputError
from physgen.models.noise import RowNoise, seed_from

__all__ = [
    "ConditionalGenerator",
    "NoDensityError",
    "History",
    "PAYLOAD_FORMAT",
    "read_payload",
    "legacy_payload",
    "check_batch",
]

History = dict[str, Any]
PAYLOAD_FORMAT = "physgen-model/1"


class NoDensityError(NotImplementedError):
    """The model has no tractable density of x (an implicit generator, or a decoder that adds
    noise)."""


def check_batch(tensor, name: str, columns: int | None = None) -> torch.Tensor:
    """A 2-D float32 tensor with ``columns`` columns, or a clear error."""
    tensor = torch.as_tensor(tensor)
    if tensor.dim() != 2:
        raise PhysgenInputError(
            f"{name} must be 2-D (batch, features), got shape {tuple(tensor.shape)}"
        )
    if columns is not None and tensor.shape[1] != columns:
        raise PhysgenInputError(
            f"{name} must have {columns} column(s), got shape {tuple(tensor.shape)}"
        )
    return tensor.to(torch.float32)


def read_payload(path) -> dict:
    """A saved model file as its payload dict, or a clear error naming the file."""
    path = Path(path)
    if not path.is_file():
        raise PhysgenInputError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many kinds for a damaged file
        raise PhysgenInputError(
            f"{path}: not a readable physgen model ({type(err).__name__}: {err}); "
            "the file is damaged or was not written by physgen - train the model again"
        ) from None
    if not isinstance(payload, dict) or not {"state_dict", "state"} & set(payload):
        raise PhysgenInputError(f"{path}: not a physgen model file")
    return payload


def legacy_payload(name: str, config: dict, state: dict, prefix: str) -> dict:
    """A payload of physgen <= 0.1.0 that saved one sub-module's weights: the current format,
    its weights under ``prefix``."""
    return {
        "model": name,
        "config": config,
        "state_dict": {f"{prefix}{k}": v for k, v in state.items()},
    }


class ConditionalGenerator(nn.Module):
    name: ClassVar[str] = "base"
    config_class: ClassVar[type]
    n_conditions: int = 0  # columns of ``conditions``
    n_features: int = 0  # columns of ``x``

    def __init__(self, config):
        super().__init__()
        self.config = config

    # --- training ----------------------------------------------------------------------
    def fit(self, data, conditions=None, run=None) -> History:
        raise NotImplementedError

    # --- sampling ----------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        tensors = itertools.chain(self.parameters(), self.buffers())
        first = next(tensors, None)
        return first.device if first is not None else torch.device("cpu")

    @torch.no_grad()
    def sample(
        self,
        conditions: torch.Tensor,
        generator: torch.Generator | None = None,
        batch_size: int | None = None,
        progress: bool = False,
    ) -> torch.Tensor:
        """One x per row of ``conditions``, computed ``batch_size`` rows at a time (the
        result does not depend on it), with a progress bar over the batches if asked."""
        conditions = check_batch(conditions, "conditions", self.n_conditions)
        if batch_size is not None and batch_size < 1:
            raise PhysgenInputError(f"batch_size must be at least 1, not {batch_size}")
        seed = seed_from(generator)
        self.eval()
        device = self.device
        n = len(conditions)
        step = batch_size or max(n, 1)
        parts = []
        starts = range(0, n, step)
        for start in tqdm(
            starts, desc=f"{self.name}: sampling", unit="batch", disable=not progress
        ):
            stop = min(start + step, n)
            noise = RowNoise(seed, start, stop, device)
            parts.append(self._sample(conditions[start:stop].to(device), noise))
        if not parts:
            return torch.empty(0, self.n_features, device=device)
        return torch.cat(parts)

    def _sample(self, conditions: torch.Tensor, noise: RowNoise) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor, conditions: torch.Tensor) -> torch.Tensor:
        raise NoDensityError(f"the {self.name} model has no tractable density")

    @property
    def has_density(self) -> bool:
        return type(self).log_prob is not ConditionalGenerator.log_prob

    # --- persistence -------------------------------------------------------------------
    def save(self, path) -> None:
        payload = {
            "format": PAYLOAD_FORMAT,
            "model": self.name,
            "config": asdict(self.config),
            "state_dict": {k: v.cpu() for k, v in self.state_dict().items()},
            "extra": self._extra_state(),
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path) -> ConditionalGenerator:
        payload = cls.upgrade_payload(read_payload(path))
        if payload.get("model") != cls.name:
            raise PhysgenInputError(
                f"{path} holds a '{payload.get('model')}' model, not '{cls.name}'; "
                "load it with physgen.registry.load_model"
            )
        config = from_dict(cls.config_class, payload["config"], str(path))
        model = cls.from_config(config)
        try:
            model.load_state_dict(payload["state_dict"])
        except RuntimeError as err:
            raise PhysgenInputError(f"{path}: the weights do not fit the model ({err})") from None
        model._load_extra_state(payload.get("extra") or {})
        return model.eval()

    @classmethod
    def from_config(cls, config) -> ConditionalGenerator:
        """A new model whose initial weights come from ``config``'s seed (``seed_of``), drawn
        without touching the caller's random state."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cls.seed_of(config))
            return cls(config)

    @staticmethod
    def seed_of(config) -> int:
        return config.training.seed

    @classmethod
    def upgrade_payload(cls, payload: dict) -> dict:
        """Payloads of older physgen versions -> the current format (subclasses extend)."""
        return payload

    def _extra_state(self) -> dict:
        """What the model saves besides its torch state (e.g. fitted tree ensembles)."""
        return {}

    def _load_extra_state(self, extra: dict) -> None:
        pass
