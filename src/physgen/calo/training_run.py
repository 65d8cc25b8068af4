"""`physgen calo train` / `generate`: runs on disk with their config, versions and history."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from physgen import __version__
from physgen.calo.io import open_shower_file, read_showers, write_showers
from physgen.calo.models import SHOWER_MODELS
from physgen.calo.models.base import ShowerModel, generate_showers, parameter_count
from physgen.core.config import from_dict, merge_overrides, overridden, read_config_file
from physgen.core.device import resolve_device
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run

DEFAULT_MODEL = "caloflow"


def shower_config(
    model_name: str | None, config_path=None, overrides: dict | None = None, log=print
):
    """The typed config of a shower model from a file and the command line. The model comes
    from ``model_name`` (an explicit --model), else from the file's ``model``, else caloflow;
    an explicit name that differs from the file's overrides it, and says so."""
    data = read_config_file(config_path) if config_path is not None else {}
    in_file = data.get("model")
    if model_name is not None and in_file is not None and in_file != model_name:
        log(f"--model {model_name} overrides 'model: {in_file}' of {config_path}")
    for note in overridden(data, overrides, config_path):
        if not note.startswith("the command line sets geometry"):  # the data decide it
            log(note)
    data["model"] = model_name or in_file or DEFAULT_MODEL
    cls = SHOWER_MODELS.model_class(str(data["model"])).config_class
    return from_dict(cls, merge_overrides(data, overrides), str(config_path or "config"))


def train_run(
    model_name: str | None,
    config_path,
    data,
    run_dir,
    epochs=None,
    device=None,
    seed=None,
    resume=False,
    log=print,
    progress=True,
) -> dict:
    info = open_shower_file(data)
    config = shower_config(
        model_name,
        config_path,
        {
            "geometry": info.geometry.name,
            "training.device": device,
            "training.epochs": epochs,
            "training.seed": seed,
        },
        log,
    )
    training = replace(config.training, device=resolve_device(config.training.device))
    config = replace(config, training=training)
    run = Run(run_dir, resume, progress)
    energies, showers = read_showers(data)
    model = SHOWER_MODELS.build(config)
    log(
        f"training {config.model} on {len(energies)} showers of {info.geometry.name} "
        f"({parameter_count(model) / 1e6:.2f}M parameters) into {run.path}"
    )
    run.start(config, config.training.seed, data)
    started = time.perf_counter()
    history = model.fit(torch.as_tensor(showers), torch.as_tensor(energies).reshape(-1, 1), run)
    train_s = time.perf_counter() - started
    summary = run.finish(
        model, history, train_s=train_s, n_train=len(energies), parameters=parameter_count(model)
    )
    log(f"trained in {train_s:.0f} s; model saved to {run.model_path}")
    return summary


def _incident_energies(spec: str, n_events, seed: int) -> np.ndarray:
    path = Path(spec)
    if path.suffix in (".h5", ".hdf5") or path.exists():
        info = open_shower_file(path)
        import h5py

        with h5py.File(info.path) as h5:
            return np.asarray(h5["incident_energies"][:], np.float32).reshape(-1)[:n_events]
    if n_events is None:
        raise PhysgenInputError("give --n with an energy range (e.g. --energies 1:100 --n 1000)")
    from physgen.calo.simulate import incident_energies_mev

    return incident_energies_mev(spec, "log-uniform", n_events, seed).astype(np.float32)


def generate_run(
    run_dir,
    energies_spec: str,
    n_events,
    batch_size: int,
    seed: int,
    out,
    device: str = "cpu",
    sampler: str | None = None,
    steps: int | None = None,
) -> dict:
    path = Run(run_dir).require_model("physgen calo train")
    model = SHOWER_MODELS.load(path).to(resolve_device(device))
    _choose_sampler(model, sampler, steps)
    energies = _incident_energies(energies_spec, n_events, seed)
    started = time.perf_counter()
    showers = generate_showers(model, energies, batch_size, seed, progress=True)
    wall = time.perf_counter() - started
    write_showers(
        out,
        energies,
        showers,
        attrs={
            "generator": f"physgen {model.name}",
            "run": str(run_dir),
            "seed": seed,
            "batch_size": batch_size,
            "physgen_version": __version__,
            "config": json.dumps(asdict(model.config)),
        },
    )
    return {"n_showers": len(energies), "wall_s": wall}


def _choose_sampler(model: ShowerModel, sampler: str | None, steps: int | None) -> None:
    if sampler is not None or steps is not None:
        model.choose_sampler(sampler, steps)


def export_run(
    run_dir,
    onnx_path,
    sampler: str | None = None,
    steps: int | None = None,
    network_only: bool = False,
    check: int = 1000,
    seed: int = 0,
) -> dict:
    """Export the run's model to ONNX and, with ``check`` > 0, compare onnxruntime with torch
    on that many showers at incident energies log-uniform in 1-100 GeV."""
    from physgen.calo.export import check_parity, export_shower_model

    model = SHOWER_MODELS.load(Run(run_dir).require_model("physgen calo train"))
    _choose_sampler(model, sampler, steps)
    started = time.perf_counter()
    result = export_shower_model(model, onnx_path, network_only)
    result["export_s"] = time.perf_counter() - started
    if check and not network_only:
        energies = _incident_energies("1:100", check, seed)
        result["parity"] = check_parity(model, onnx_path, energies, seed)
    return result
