"""Shared by the calorimeter model benchmarks: the default preset files, and a model trained
once from `benchmarks/configs/NAME.yaml` into a run directory, then reused."""

from __future__ import annotations

import json
from pathlib import Path

from physgen.calo.models import SHOWER_MODELS
from physgen.calo.models.base import ShowerModel
from physgen.calo.training_run import train_run

CONFIGS = Path(__file__).resolve().parent / "configs"


def preset_files(train: Path | None, reference: Path | None) -> tuple[Path, Path]:
    """(train, reference): the given files, or those of the `ds2-e-1-100GeV` preset."""
    if train is not None:
        return train, reference
    from physgen.calo.presets import get_preset

    preset = get_preset("ds2-e-1-100GeV")
    return preset.path("train"), preset.path("reference")


def trained_model(name: str, train: Path, run_dir: Path) -> tuple[ShowerModel, float]:
    """The model of config NAME trained on ``train`` in ``run_dir`` (trained now if missing),
    and its training wall time."""
    if not (run_dir / "model.pt").exists():
        config = CONFIGS / f"{name}.yaml"
        train_run(None, config, train, run_dir)
    train_s = json.loads((run_dir / "training.json").read_text())["train_s"]
    return SHOWER_MODELS.load(run_dir / "model.pt"), train_s
