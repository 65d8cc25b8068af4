"""Jet emulator: an autoregressive IQN on the features of Kronheim et al., under the
conditional-generator contract: x is the emulated jet (pt, eta, phi, m) in GeV, the condition
the parton-level jet (pt, eta, phi, m) in GeV. The feature maps (jets.features) live inside the
model, so it takes and returns jets. ``emulate``, ``pit`` and ``monotonicity_violations`` are
the numpy edge."""

from __future__ import annotations

from dataclasses import field
from typing import Literal

import numpy as np
import torch

from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.core.training import fit as train_unit
from physgen.jets.features import (
    input_features_tensor,
    jets_from_targets_tensor,
    target_features_tensor,
)
from physgen.models.base import ConditionalGenerator, History, check_batch, legacy_payload
from physgen.models.iqn import AutoregressiveIQN, IQNConfig

__all__ = ["EmulatorConfig", "JetEmulator", "emulate"]


@settings
class EmulatorConfig:
    model: Literal["iqn"] = "iqn"
    target: Literal["particle", "detector"] = "particle"
    iqn: IQNConfig = field(default_factory=lambda: IQNConfig(hidden=(256, 256, 256)))
    # no early stopping: the validation loss at random tau is too noisy to stop on
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=40, batch_size=1024, learning_rate=2e-3, patience=None
        )
    )


def _check_jets(jets: torch.Tensor, name: str) -> None:
    if not torch.isfinite(jets).all():
        raise PhysgenInputError(f"{name} contain NaN or inf")
    if (jets[:, 0] <= 0).any():
        raise PhysgenInputError(f"{name} must have positive pT")
    if (jets[:, 3] < 0).any():
        raise PhysgenInputError(f"{name} must have non-negative masses")


class JetEmulator(ConditionalGenerator):
    name = "iqn"
    config_class = EmulatorConfig
    n_conditions = n_features = 4

    def __init__(self, config: EmulatorConfig | None = None):
        super().__init__(config or EmulatorConfig())
        self.network = AutoregressiveIQN(4, 4, self.config.iqn)

    def fit(self, data, conditions, run=None) -> History:
        """Train on emulated-level jets ``data`` given their parton jets ``conditions``."""
        jets = check_batch(data, "jets", 4)
        parton = check_batch(conditions, "parton jets", 4)
        if len(jets) != len(parton) or len(jets) < 2:
            raise PhysgenInputError(
                f"training needs at least 2 (parton, jet) pairs of equal count, got "
                f"{len(parton)} parton jets and {len(jets)} jets"
            )
        _check_jets(parton, "parton jets")
        _check_jets(jets, "jets")
        x, y = input_features_tensor(parton), target_features_tensor(parton, jets)
        self.cpu()
        self.network.fit_scaling(x, y)
        checkpoints, resume, progress = Run.training_place(run, "iqn")
        history = train_unit(
            self.network,
            lambda model, xb, yb: model.loss(xb, yb),
            (x, y),
            self.config.training,
            checkpoints,
            resume=resume,
            progress=progress,
            description="IQN",
        )
        self.to(self.config.training.device)
        return {"iqn": history}

    @classmethod
    def upgrade_payload(cls, payload: dict) -> dict:
        """Emulators saved by physgen <= 0.1.0: the network's weights under "state"."""
        if "format" in payload:
            return payload
        return legacy_payload(cls.name, payload["config"], payload["state"], "network.")

    def _sample(self, conditions, noise):
        targets = self.network.sample(input_features_tensor(conditions), noise)
        return jets_from_targets_tensor(conditions, targets)

    def _tensors(self, parton_jets, jets):
        parton = torch.as_tensor(np.asarray(parton_jets, np.float32))
        jets = torch.as_tensor(np.asarray(jets, np.float32))
        device = self.device
        x = input_features_tensor(parton).to(device)
        return x, target_features_tensor(parton, jets).to(device)

    def pit(self, parton_jets, jets) -> np.ndarray:
        self.eval()
        return self.network.pit(*self._tensors(parton_jets, jets)).cpu().numpy()

    def monotonicity_violations(self, parton_jets, jets) -> float:
        self.eval()
        return self.network.monotonicity_violations(*self._tensors(parton_jets, jets))


def emulate(
    model: JetEmulator, parton_jets: np.ndarray, seed: int = 0, batch_size: int = 100_000
) -> np.ndarray:
    """One emulated jet (pt, eta, phi, m) per parton jet, numpy in and out."""
    parton = torch.as_tensor(np.asarray(parton_jets, np.float32))
    generator = torch.Generator().manual_seed(seed)
    return model.sample(parton, generator, batch_size=batch_size).cpu().numpy()
