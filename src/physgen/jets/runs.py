"""``physgen jets train / generate / evaluate``: runs on disk with config, versions, history."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch

from physgen import __version__
from physgen.core.atomic import write_json_atomic
from physgen.core.config import load_config
from physgen.core.device import resolve_device
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.jets.emulator import EmulatorConfig, JetEmulator, emulate
from physgen.jets.evaluate import JetEvaluationConfig, evaluate_emulator
from physgen.jets.io import read_pairs, write_pairs
from physgen.jets.report import write_jet_report

__all__ = ["train_emulator_run", "generate_run", "evaluate_run"]


def train_emulator_run(
    data,
    run_dir,
    config_path=None,
    target=None,
    epochs=None,
    max_rows=None,
    device=None,
    resume=False,
    progress=True,
    log=print,
) -> dict:
    overrides = {"target": target, "training.epochs": epochs, "training.device": device}
    config = load_config(EmulatorConfig, config_path, overrides, log)
    training = replace(config.training, device=resolve_device(config.training.device))
    config = replace(config, training=training)
    run = Run(run_dir, resume, progress)
    parton, jets = read_pairs(data, config.target, max_rows)
    log(
        f"training the IQN jet emulator on {len(parton)} pairs (parton -> {config.target}) "
        f"into {run.path}"
    )
    run.start(config, config.training.seed, data)
    emulator = JetEmulator.from_config(config)
    started = time.perf_counter()
    history = emulator.fit(torch.as_tensor(jets), torch.as_tensor(parton), run)
    train_s = time.perf_counter() - started
    summary = run.finish(emulator, history, train_s=train_s, n_train=len(parton))
    log(f"trained in {train_s:.0f} s; model saved to {run.model_path}")
    return summary


def _load(run_dir) -> JetEmulator:
    return JetEmulator.load(Run(run_dir).require_model("physgen jets train"))


def generate_run(run_dir, inputs, out, seed=0, log=print) -> dict:
    emulator = _load(run_dir)
    parton, _ = read_pairs(inputs, emulator.config.target)
    started = time.perf_counter()
    jets = emulate(emulator, parton, seed=seed)
    seconds = time.perf_counter() - started
    write_pairs(
        out,
        parton,
        jets,
        {"generator": f"physgen IQN emulator ({run_dir})", "inputs": str(inputs), "seed": seed},
    )
    log(f"emulated {len(jets)} jets in {seconds:.2f} s ({len(jets) / seconds:.0f} jets/s) -> {out}")
    return {"n": len(jets), "seconds": seconds, "jets_per_s": len(jets) / seconds}


def evaluate_run(
    run_dir,
    reference,
    out_dir,
    generated=None,
    floor=None,
    max_rows=50_000,
    progress=True,
    log=print,
) -> dict:
    emulator = _load(run_dir)
    target = emulator.config.target
    reference_pairs = read_pairs(reference, target, max_rows)
    generated_jets = None
    if generated is not None:
        generated_parton, generated_jets = read_pairs(generated, "particle", max_rows)
        if (
            generated_parton.shape != reference_pairs[0].shape
            or (generated_parton != reference_pairs[0]).any()
        ):
            raise PhysgenInputError(
                f"{generated} was not generated from the parton jets of {reference}; "
                f"run `physgen jets generate --inputs {reference}` or leave out --generated"
            )
    floor_pairs = read_pairs(floor, target, max_rows) if floor is not None else None
    metrics, arrays = evaluate_emulator(
        emulator,
        reference_pairs,
        generated_jets,
        floor_pairs,
        JetEvaluationConfig(max_rows=max_rows),
        progress,
    )
    metrics.update(run=str(run_dir), reference=str(reference), physgen_version=__version__)
    out_dir = Path(out_dir)
    write_json_atomic(out_dir / "metrics.json", metrics)
    write_jet_report(out_dir / "report.html", metrics, arrays)
    log(
        f"AUC {metrics['classifier']['auc']:.4f}"
        + (f" (floor {metrics['floor_classifier']['auc']:.4f})" if floor is not None else "")
        + f", PIT KS min p {metrics['pit_ks_min_pvalue']:.3g}; report {out_dir / 'report.html'}"
    )
    return metrics
