"""The nested sampler end to end on problems with known answers."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from physgen.cli import main
from physgen.nested.outputs import posterior_moments
from physgen.nested.problems import get_problem
from physgen.nested.sampler import NestedConfig, NestedSampler


@pytest.fixture(scope="module")
def gaussian_run():
    problem = get_problem("gaussian", 2)
    sampler = NestedSampler(problem, NestedConfig(n_live=150, seed=1), progress=False)
    return problem, sampler, sampler.run()


def test_gaussian_evidence_within_its_error(gaussian_run):
    problem, _, result = gaussian_run
    assert result.converged and result.retrainings >= 1  # the flow proposal was used
    assert abs(result.log_z - problem.log_z_exact) < 3 * result.log_z_err
    assert 0.05 < result.log_z_err < 0.3


def test_weighted_posterior_mean_and_covariance(gaussian_run):
    _, sampler, _ = gaussian_run
    theta, _, _, log_weights = sampler.samples()
    mean, covariance = posterior_moments(theta, log_weights)
    np.testing.assert_allclose(mean, 0.0, atol=0.25)
    np.testing.assert_allclose(covariance, np.eye(2), atol=0.3)


def test_random_walk_proposal_also_finds_the_evidence():
    problem = get_problem("gaussian", 3)
    config = NestedConfig(n_live=150, proposal="rwalk", seed=2)
    result = NestedSampler(problem, config, progress=False).run()
    assert abs(result.log_z - problem.log_z_exact) < 3 * result.log_z_err
    assert result.retrainings == 0


def test_resume_continues_the_uninterrupted_run(tmp_path):
    """Stopped mid-run (a call budget, as a kill would), then resumed from the last checkpoint:
    the same evidence, calls and dead points as the run that was never stopped."""
    problem = get_problem("gaussian", 2)
    config = NestedConfig(n_live=80, seed=3, checkpoint_every=100)
    straight = NestedSampler(problem, config, tmp_path / "a", progress=False)
    reference = straight.run()
    stopped = NestedSampler(
        problem, NestedConfig(**{**config.__dict__, "max_calls": 1500}), tmp_path / "b", False
    )
    assert not stopped.run().converged
    resumed = NestedSampler(problem, config, tmp_path / "b", progress=False)
    result = resumed.run(resume=True)
    assert result.log_z == reference.log_z and result.likelihood_calls == reference.likelihood_calls
    assert np.array_equal(resumed.arrays["dead_log_l"], straight.arrays["dead_log_l"])


def test_cli_run_writes_result_chains_and_report(tmp_path):
    out = tmp_path / "run"
    args = ["nested", "run", "--problem", "rosenbrock", "--dim", "2", "--live", "100"]
    result = CliRunner().invoke(main, [*args, "--proposal", "rwalk", "--out", str(out)])
    assert result.exit_code == 0, result.output
    found = json.loads((out / "result.json").read_text())
    assert abs(found["log_z"] - found["log_z_exact"]) < 4 * found["log_z_err"]
    assert (out / "report.html").read_text().count("<img") == 2
    dead_birth = np.loadtxt(out / "chains" / "rosenbrock_dead-birth.txt")
    assert dead_birth.shape == (found["iterations"] + 100, 4)
    again = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert again.exit_code == 2 and "finished run" in again.output


def test_anesthetic_reads_the_chains(tmp_path):
    anesthetic = pytest.importorskip("anesthetic")
    out = tmp_path / "run"
    args = ["nested", "run", "--problem", "gaussian", "--dim", "2", "--live", "100"]
    result = CliRunner().invoke(main, [*args, "--proposal", "rwalk", "--out", str(out)])
    assert result.exit_code == 0, result.output
    found = json.loads((out / "result.json").read_text())
    samples = anesthetic.read_chains(str(out / "chains" / "gaussian"))
    log_z = samples.logZ(100)
    assert abs(log_z.mean() - found["log_z"]) < 0.05
    assert abs(log_z.std() - found["log_z_err"]) < 0.05


def test_a_likelihood_that_returns_nan_gets_a_clear_error(tmp_path):
    user = tmp_path / "bad.py"
    user.write_text(
        "import numpy as np\nbounds = [(-1, 1), (-1, 1)]\n"
        "def log_likelihood(theta):\n"
        "    values = -np.sum(theta**2, 1)\n"
        "    values[theta[:, 0] > 0.9] = np.nan\n"
        "    return values\n"
    )
    result = CliRunner().invoke(
        main,
        ["nested", "run", "--likelihood", str(user), "--live", "50", "--out", str(tmp_path / "r")],
    )
    assert result.exit_code == 2
    assert "returned nan at theta" in result.output.lower() and "Traceback" not in result.output


@pytest.mark.parametrize("correlation", [0.0, 0.7])
def test_metropolis_hastings_chains_find_the_evidence(correlation):
    """Rejection made to fail at once (it would have to keep 99% of the draws), so every
    replacement after the prior phase comes from the Metropolis-Hastings chains: fresh draws
    of the proposal (independence sampler) or latent moves near the chain's point."""
    problem = get_problem("gaussian", 2)
    config = NestedConfig(n_live=150, seed=5, min_rejection_yield=0.99, mh_correlation=correlation)
    sampler = NestedSampler(problem, config, progress=False)
    result = sampler.run()
    assert sampler.state["rejection_failed"] and sampler.state["mh_chains"] > 0
    assert abs(result.log_z - problem.log_z_exact) < 3 * result.log_z_err
    assert result.unmoved_chains < 0.2
    theta, _, _, log_weights = sampler.samples()
    mean, covariance = posterior_moments(theta, log_weights)
    np.testing.assert_allclose(mean, 0.0, atol=0.25)
    np.testing.assert_allclose(covariance, np.eye(2), atol=0.3)
