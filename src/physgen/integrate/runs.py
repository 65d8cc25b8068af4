"""The run folders of ``physgen integrate``: train a flow towards a target, estimate the
target's integral with it, draw (unweighted) events."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np

from physgen.core.atomic import atomic_path, write_json_atomic
from physgen.core.config import load_config
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.integrate.sampler import (
    DensityFlow,
    DensityFlowConfig,
    estimate_from_weights,
    weighted_draws,
)
from physgen.integrate.targets import Target, get_target
from physgen.metrics.importance import importance_estimates, unweight

__all__ = ["train_run", "estimate_run", "sample_run", "load_run"]

REPORT_DRAWS = 50_000


def train_run(target_name, out, config_path=None, resume=False, progress=True, **changes) -> dict:
    target = get_target(target_name)
    config = load_config(DensityFlowConfig, config_path) if config_path else DensityFlowConfig()
    changes = {k: v for k, v in changes.items() if v is not None}
    seed = changes.pop("seed", None)
    if seed is not None:
        changes["optimizer"] = replace(config.optimizer, seed=seed)
    config = replace(
        config,
        target=target_name,
        lower=tuple(target.lower.tolist()),
        upper=tuple(target.upper.tolist()),
        bounded=target.bounded,
        **changes,
    )
    run = Run(out, resume, progress)
    run.start(config, config.optimizer.seed, data=target_name, target=target.describe())
    model = DensityFlow.from_config(config)
    started = time.perf_counter()
    history = model.fit(target, None, run)
    return run.finish(
        model,
        history,
        target=target.describe(),
        target_evaluations=history["flow"]["target_evaluations"],
        seconds=time.perf_counter() - started,
    )


def load_run(run_dir) -> tuple[DensityFlow, Target, dict]:
    run_dir = Path(run_dir)
    model = DensityFlow.load(Run(run_dir).require_model("physgen integrate train ... --out RUN"))
    target = get_target(model.config.target)
    training = json.loads((run_dir / Run.HISTORY).read_text())
    return model, target, training


def estimate_run(run_dir, n: int, seed: int = 0) -> dict:
    """log Z with its error, ESS / N, unweighting efficiency from ``n`` flow draws; written
    to RUN/estimate.json with a report (RUN/report.html)."""
    model, target, training = load_run(run_dir)
    points, log_w = weighted_draws(model, target, n, seed)
    result = estimate_from_weights(target, log_w)
    result["training_target_evaluations"] = training["target_evaluations"]
    result["target"] = target.name
    result["method"] = model.config.method
    write_json_atomic(Path(run_dir) / "estimate.json", result)
    from physgen.integrate.report import write_report

    shown = slice(0, REPORT_DRAWS)  # the report plots the first of the estimate's draws
    write_report(model, target, result, Path(run_dir) / "report.html", points[shown], log_w[shown])
    return result


def sample_run(run_dir, n: int, out, unweighted: bool, seed: int = 0, pilot: int = 100_000):
    """``n`` events in HDF5: weighted (``events``, ``weights`` with mean Z) or unweighted
    (rejection against the largest weight of a ``pilot`` sample and the draws so far;
    ``overweight_fraction`` counts draws above it, kept at weight 1)."""
    model, target, _ = load_run(run_dir)
    out = Path(out)
    if out.exists():
        raise PhysgenInputError(f"{out} exists; choose another --out")

    def log_weights(seed_):
        return weighted_draws(model, target, pilot if unweighted else n, seed_)

    attrs = {"target": target.name, "method": model.config.method, "seed": seed}
    if not unweighted:
        x, log_w = log_weights(seed)
        events, weights = x, np.exp(log_w)
        attrs.update(importance_estimates(log_w))
    else:
        rng = np.random.default_rng(seed)
        kept, drawn, overweight, batch_seed = [], 0, 0, seed
        x, log_w = log_weights(batch_seed)
        log_max = float(log_w.max())
        while sum(len(k) for k in kept) < n:
            batch_seed += 1
            x, log_w = log_weights(batch_seed)
            drawn += len(x)
            overweight += int((log_w > log_max).sum())
            kept.append(x[unweight(log_w, rng, log_max)])
        events = np.concatenate(kept)[:n]
        weights = np.ones(len(events))
        attrs.update(drawn=drawn, efficiency=len(np.concatenate(kept)) / drawn,
                     overweight_fraction=overweight / drawn, log_max_weight=log_max)  # fmt: skip
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as file:
        file.create_dataset("events", data=events.astype(np.float64), compression="gzip")
        file.create_dataset("weights", data=weights, compression="gzip")
        for key, value in attrs.items():
            file.attrs[key] = value
    return {"out": str(out), "events": len(events), **attrs}
