"""Emulator-based fitting through the CLI, against the analytic posterior of a linear-Gaussian
simulator (flat prior, posterior well inside the bounds)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from physgen.cli import main
from physgen.emulate.analytic import LinearGaussian

pytest.importorskip("emcee")


def _invoke(*args):
    result = CliRunner().invoke(main, ["emulate", *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_fit_recovers_the_analytic_linear_gaussian_posterior(tmp_path):
    run, observed, fit, report = (tmp_path / n for n in ("run", "obs.json", "fit", "report"))
    _invoke("learn", "--simulator", "linear-gaussian", "--strategy", "committee", "--budget", 60,
            "--initial", 20, "--batch", 20, "--test-points", 20, "--out", run)  # fmt: skip
    _invoke("observe", "--simulator", "linear-gaussian", "--parameters", "0.3,-0.2",
            "--seed", 7, "--out", observed)  # fmt: skip
    _invoke("fit", run, "--observed", observed, "--steps", 1500, "--burn", 500, "--out", fit)
    _invoke("report", run, "--out", report)

    observation = json.loads(observed.read_text())
    mean, covariance = LinearGaussian().posterior(np.array(observation["summary"]))
    exact_std = np.sqrt(np.diag(covariance))
    rows = json.loads((fit / "fit.json").read_text())["parameters"]
    fitted_mean = np.array([rows[n]["mean"] for n in ("theta1", "theta2")])
    fitted_std = np.array([rows[n]["std"] for n in ("theta1", "theta2")])
    # An emulator learned from 60 noisy calls keeps a mean error of about the noise over
    # sqrt(calls per parameter), which the committee's spread does not fully cover: measured
    # pulls up to 0.95 exact sigma at this budget (docs/emulate.md), hence 1.5 sigma here.
    assert np.all(np.abs(fitted_mean - mean) < 1.5 * exact_std), (fitted_mean, mean, exact_std)
    assert np.all((fitted_std > 0.8 * exact_std) & (fitted_std < 2.0 * exact_std)), (
        fitted_std,
        exact_std,
    )
    samples = np.load(fit / "posterior.npz")["samples"]
    assert samples.shape[1] == 2 and len(samples) == 32 * 1000
    assert (fit / "corner.png").stat().st_size > 0 and (report / "error_vs_calls.png").exists()


def test_fit_rejects_an_observation_of_the_wrong_size(tmp_path):
    run, observed = tmp_path / "run", tmp_path / "obs.json"
    _invoke("learn", "--simulator", "linear-gaussian", "--strategy", "lhs", "--budget", 10,
            "--test-points", 4, "--out", run)  # fmt: skip
    observed.write_text(json.dumps({"summary": [0.0, 1.0], "errors": [0.1, 0.1]}))
    result = CliRunner().invoke(
        main,
        ["emulate", "fit", str(run), "--observed", str(observed), "--out", str(tmp_path / "f")],
    )
    assert result.exit_code != 0 and "the summary has 2 values, the emulator 4" in result.output
