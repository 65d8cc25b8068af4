"""A fit of a learning run's emulator to an observation, written as a fit folder:
``fit.json`` (per parameter: mean, std, 16/50/84 % quantiles, truth and pull where known;
acceptance, autocorrelation, the fit's time and the extrapolated time of the same MCMC
calling the simulator), ``posterior.npz`` and ``corner.png``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from physgen.core.atomic import write_json_atomic, write_npz_atomic
from physgen.core.errors import PhysgenInputError
from physgen.core.outputs import check_output
from physgen.core.run import Run
from physgen.emulate.emulator import Emulator
from physgen.emulate.fit import fit_emulator, read_observation
from physgen.emulate.simulators import get_simulator

__all__ = ["fit_run", "load_learning_run"]


def load_learning_run(run_dir):
    """(emulator, simulator, mean seconds per simulator call) of a finished learning run."""
    run_dir = Path(run_dir)
    model = Run(run_dir).require_model("physgen emulate learn ... --out RUN")
    record_path = run_dir / "learning.json"
    if not record_path.is_file():
        raise PhysgenInputError(f"{run_dir}: no learning.json; is it an `emulate learn` run?")
    record = json.loads(record_path.read_text())
    described = record["simulator"]
    simulator = get_simulator(described["simulator"], described["settings"])
    last = record["curve"][-1]  # every training point's call time, cached or not
    per_call = last["simulator_s"] / max(last["calls"], 1)
    return Emulator.load(model), simulator, per_call


def _corner(samples, names, truth, path):
    import corner
    import matplotlib

    matplotlib.use("Agg")
    figure = corner.corner(
        samples, labels=list(names), truths=truth, quantiles=(0.16, 0.5, 0.84), show_titles=True
    )
    figure.savefig(path, dpi=80)
    import matplotlib.pyplot as plt

    plt.close(figure)


def fit_run(run_dir, observed, out_dir, overwrite=False, **options) -> dict:
    out_dir = check_output(out_dir, overwrite)
    emulator, simulator, seconds_per_call = load_learning_run(run_dir)
    observation = read_observation(observed, emulator.n_features)
    if observation.parameters is not None and observation.parameters.shape != (simulator.dim,):
        raise PhysgenInputError(f"{observed}: 'parameters' must hold {simulator.dim} values")
    result = fit_emulator(emulator, observation, simulator.bounds, **options)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for index, name in enumerate(simulator.parameter_names):
        column = result.samples[:, index]
        q16, q50, q84 = np.quantile(column, (0.16, 0.5, 0.84))
        row = {"mean": float(column.mean()), "std": float(column.std()), "q16": q16, "q50": q50}
        row["q84"] = q84
        if observation.parameters is not None:
            truth = float(observation.parameters[index])
            row.update(truth=truth, pull=(row["mean"] - truth) / row["std"])
        rows[name] = {k: float(v) for k, v in row.items()}
    summary = {
        "run": str(run_dir),
        "observed": str(observed),
        "options": options,
        "parameters": rows,
        "acceptance": result.acceptance,
        "autocorrelation_steps": result.autocorrelation.tolist(),
        "emulator_evaluations": result.evaluations,
        "fit_s": result.seconds,
        "simulator_s_per_call": seconds_per_call,
        "direct_fit_s_extrapolated": result.evaluations * seconds_per_call,
    }
    write_npz_atomic(
        out_dir / "posterior.npz", samples=result.samples, log_likelihood=result.log_likelihood
    )
    truth = None if observation.parameters is None else observation.parameters.tolist()
    _corner(result.samples, simulator.parameter_names, truth, out_dir / "corner.png")
    write_json_atomic(out_dir / "fit.json", summary)
    return summary
