"""`physgen calo train` / `generate`: runs on disk with their config, versions and history."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from physgen import __version__
from physgen.calo.io import open_shower_file, read_showers, write_showers
from physgen.calo.shower_models import ShowerModel, ShowerModelConfig, build_model, parameter_count
from physgen.core.atomic import write_json_atomic
from physgen.core.config import load_config
from physgen.core.device import resolve_device
from physgen.core.errors import PhysgenInputError
from physgen.core.provenance import software_versions


def train_run(
    model_name: str,
    config_path,
    data,
    run_dir,
    epochs=None,
    device="cpu",
    seed=None,
    resume=False,
    log=print,
    progress=True,
) -> dict:
    run_dir = Path(run_dir)
    if (run_dir / "model.pt").exists() and not resume:
        raise PhysgenInputError(f"{run_dir} already holds a trained model; choose another --out")
    config = load_config(ShowerModelConfig, config_path, {"model": model_name})
    training = replace(
        config.training,
        device=resolve_device(device),
        **({"epochs": epochs} if epochs else {}),
        **({"seed": seed} if seed is not None else {}),
    )
    config = replace(config, training=training)
    info = open_shower_file(data)
    energies, showers = read_showers(data)
    model = build_model(info.geometry, config)
    log(
        f"training {config.model} on {len(energies)} showers of {info.geometry.name} "
        f"({parameter_count(model) / 1e6:.2f}M parameters) into {run_dir}"
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(
        run_dir / "config.json",
        {"config": asdict(config), "data": str(data), "versions": software_versions()},
    )
    started = time.perf_counter()
    history = model.fit(
        energies, showers, run_dir / "checkpoints", resume=resume, progress=progress
    )
    train_s = time.perf_counter() - started
    model.save(run_dir / "model.pt")
    summary = {
        "train_s": train_s,
        "n_train": len(energies),
        "parameters": parameter_count(model),
        "history": history,
    }
    write_json_atomic(run_dir / "training.json", summary)
    log(f"trained in {train_s:.0f} s; model saved to {run_dir / 'model.pt'}")
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
    run_dir = Path(run_dir)
    if not (run_dir / "model.pt").exists():
        raise PhysgenInputError(f"{run_dir} holds no model.pt: train one with `physgen calo train`")
    model = ShowerModel.load(run_dir / "model.pt").to(resolve_device(device))
    _choose_sampler(model, sampler, steps)
    energies = _incident_energies(energies_spec, n_events, seed)
    started = time.perf_counter()
    showers = model.sample(energies, batch_size=batch_size, seed=seed, progress=True)
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
    if sampler is None and steps is None:
        return
    if not hasattr(model, "sampler_name"):
        raise PhysgenInputError(
            f"--sampler/--steps apply to diffusion, flow-matching and trees models, not to "
            f"{model.name}"
        )
    if sampler is not None:
        from physgen.calo.diffusion_models import FLOW_MATCHING_SAMPLERS
        from physgen.models.samplers import SAMPLERS

        allowed = FLOW_MATCHING_SAMPLERS if model.name in ("flow-matching", "trees") else SAMPLERS
        if sampler not in allowed:
            raise PhysgenInputError(
                f"sampler '{sampler}' is not available for {model.name}: "
                f"use one of {', '.join(allowed)}"
            )
        model.sampler_name = sampler
    if steps is not None:
        if steps < 1:
            raise PhysgenInputError("--steps must be at least 1")
        model.steps = steps
