"""Jet emulator: an autoregressive IQN on the features of Kronheim et al., with the contract
fit / sample / save / load. Maps parton-level jets to emulated particle- (or detector-)
level jets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from physgen.core.atomic import atomic_path
from physgen.core.config import from_dict
from physgen.core.training import TrainingConfig, fit
from physgen.jets.features import input_features, jets_from_targets, target_features
from physgen.models.iqn import AutoregressiveIQN, IQNConfig

__all__ = ["EmulatorConfig", "JetEmulator"]


@dataclass(frozen=True)
class EmulatorConfig:
    target: str = "particle"  # particle | detector
    iqn: IQNConfig = field(default_factory=lambda: IQNConfig(hidden=(256, 256, 256)))
    # no early stopping: the validation loss at random tau is too noisy to stop on
    training: TrainingConfig = field(
        default_factory=lambda: TrainingConfig(
            epochs=40, batch_size=1024, learning_rate=2e-3, patience=None
        )
    )


class JetEmulator:
    def __init__(self, config: EmulatorConfig = EmulatorConfig()):
        self.config = config
        self.network = AutoregressiveIQN(4, 4, config.iqn)

    @staticmethod
    def _tensors(parton_jets, jets=None):
        x = torch.as_tensor(input_features(parton_jets))
        if jets is None:
            return x
        return x, torch.as_tensor(target_features(parton_jets, jets))

    def fit(self, parton_jets, jets, run_dir=None, resume=False, progress=True) -> dict:
        x, y = self._tensors(parton_jets, jets)
        self.network.fit_scaling(x, y)
        return fit(
            self.network,
            lambda model, xb, yb: model.loss(xb, yb),
            (x, y),
            self.config.training,
            run_dir=run_dir,
            resume=resume,
            progress=progress,
            description="IQN",
        )

    def sample(self, parton_jets: np.ndarray, seed: int = 0, batch_size: int = 100_000):
        """One emulated jet (pt, eta, phi, m) per parton jet."""
        generator = torch.Generator().manual_seed(seed)
        x = self._tensors(parton_jets)
        self.network.eval()
        targets = torch.cat(
            [
                self.network.sample(x[begin : begin + batch_size], generator)
                for begin in range(0, len(x), batch_size)
            ]
        )
        return jets_from_targets(parton_jets, targets.numpy())

    def pit(self, parton_jets, jets) -> np.ndarray:
        self.network.eval()
        return self.network.pit(*self._tensors(parton_jets, jets)).numpy()

    def monotonicity_violations(self, parton_jets, jets) -> float:
        self.network.eval()
        return self.network.monotonicity_violations(*self._tensors(parton_jets, jets))

    def save(self, path) -> None:
        payload = {"config": asdict(self.config), "state": self.network.state_dict()}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path) -> JetEmulator:
        payload = torch.load(Path(path), map_location="cpu", weights_only=False)
        emulator = cls(from_dict(EmulatorConfig, payload["config"], str(path)))
        emulator.network.load_state_dict(payload["state"])
        emulator.network.eval()
        return emulator
