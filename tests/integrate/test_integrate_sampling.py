"""AIS with HMC against Gaussian known answers, flows trained by each method recovering a
Gaussian's log Z within the error they state, and the CLI chain with its events file."""

import json
import math

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from scipy import stats

from physgen.cli import main
from physgen.core.run import Run
from physgen.integrate.sampler import DensityFlow, DensityFlowConfig, estimate
from physgen.integrate.targets import Gaussian
from physgen.models.ais import AISConfig, AnnealedImportanceSampler
from physgen.models.flows import FlowConfig


def _normal_log_pdf(mean, scale):
    def log_pdf(x):
        z = (x - mean) / scale
        return (-0.5 * z.square() - math.log(scale * math.sqrt(2 * math.pi))).sum(1)

    return log_pdf


def test_hmc_transitions_leave_the_target_invariant():
    """With q = p every AIS weight is exactly 1 and the chains stay distributed as p."""
    generator = torch.Generator().manual_seed(0)
    log_p = _normal_log_pdf(1.0, 0.5)
    start = 1.0 + 0.5 * torch.randn(20000, 2, generator=generator, dtype=torch.float64)
    ais = AnnealedImportanceSampler(AISConfig(intermediate=4, leapfrog_steps=3, step_size=0.8))
    end, log_w = ais.run(start, log_p, log_p, alpha=1.0, generator=generator)
    assert torch.all(log_w == 0)
    assert float(ais.acceptance.min()) > 0.5  # the moves did move
    assert not torch.equal(end, start)
    for column in range(2):
        assert stats.kstest(end[:, column].numpy(), "norm", args=(1.0, 0.5)).pvalue > 1e-3


def test_ais_weights_estimate_the_ratio_of_normalisations():
    """q = N(0, 2^2), p = exp(-|x - 1|^2 / (2 0.5^2)) in 2-D: E[w] = 2 pi 0.25, and the weighted
    chains have p's mean and variance; alpha = 2 targets p^2 / q, whose normaliser is known."""
    generator = torch.Generator().manual_seed(1)
    log_q = _normal_log_pdf(0.0, 2.0)

    def log_p(x):
        return -0.5 * ((x - 1.0) / 0.5).square().sum(1)

    start = 2.0 * torch.randn(40000, 2, generator=generator, dtype=torch.float64)
    ais = AnnealedImportanceSampler(AISConfig(intermediate=6, leapfrog_steps=4, step_size=0.3))
    end, log_w = ais.run(start, log_q, log_p, alpha=1.0, generator=generator)
    w = torch.exp(log_w)
    z, error = w.mean().item(), (w.std() / math.sqrt(len(w))).item()
    assert abs(z - 2 * math.pi * 0.25) < 4 * error and error < 0.02 * z
    normalised = (w / w.sum())[:, None]
    mean = (normalised * end).sum(0)
    variance = (normalised * (end - mean).square()).sum(0)
    torch.testing.assert_close(mean, torch.full((2,), 1.0, dtype=torch.float64), atol=0.02, rtol=0)
    torch.testing.assert_close(
        variance, torch.full((2,), 0.25, dtype=torch.float64), atol=0.02, rtol=0
    )
    # p^2 / q per axis: 2 sqrt(2 pi) exp(-a x^2 + 8 x - 4), a = 4 - 1/8, a Gaussian integral
    a = 4 - 1 / 8
    one_axis = 2 * math.sqrt(2 * math.pi) * math.sqrt(math.pi / a) * math.exp(16 / a - 4)
    _, log_w2 = ais.run(start, log_q, log_p, alpha=2.0, generator=generator)
    w2 = torch.exp(log_w2)
    assert abs(w2.mean().item() - one_axis**2) < 5 * (w2.std() / math.sqrt(len(w2))).item()


@pytest.mark.parametrize("method", ["reverse-kl", "nis", "fab"])
def test_flow_recovers_a_gaussian_log_z_within_its_error(method):
    target = Gaussian(dim=2)
    config = DensityFlowConfig(
        target="gaussian", lower=tuple(target.lower), upper=tuple(target.upper),
        method=method, budget=60_000, batch_size=256,
        flow=FlowConfig(kind="coupling-rqs", transforms=4, hidden=(32, 32)),
    )  # fmt: skip
    model = DensityFlow.from_config(config)
    history = model.fit(target, None, Run(progress=False))["flow"]
    assert 0.9 * 60_000 <= history["target_evaluations"] <= 60_000 * 1.05
    result = estimate(model, target, 100_000, seed=3)
    assert abs(result["log_z_minus_exact"]) < 4 * result["log_z_error"] + 1e-4, result
    assert result["ess_per_sample"] > 0.2, result


def test_cli_train_estimate_and_unweighted_events(tmp_path):
    run, events, config = tmp_path / "run", tmp_path / "events.h5", tmp_path / "flow.yaml"
    config.write_text("flow:\n  transforms: 4\n  hidden: [32, 32]\n")
    runner = CliRunner()
    for args in (
        ["train", "--target", "gaussian", "--method", "reverse-kl", "--budget", 40000,
         "--batch-size", 256, "--config", config, "--out", run],
        ["estimate", run, "--n", 20000],
        ["sample", run, "--n", 4000, "--unweighted", "--out", events],
    ):  # fmt: skip
        result = runner.invoke(main, ["integrate", *map(str, args)])
        assert result.exit_code == 0, result.output
    estimate_json = json.loads((run / "estimate.json").read_text())
    assert estimate_json["training_target_evaluations"] <= 40000
    assert (run / "report.html").stat().st_size > 10_000
    with h5py.File(events) as file:
        x = file["events"][:]
        assert x.shape == (4000, 2) and file.attrs["efficiency"] > 0
    # unit-weight events follow the target N(1, 0.5^2) per axis: chi-square on 20 bins
    edges = stats.norm.ppf(np.linspace(0, 1, 21), 1.0, 0.5)
    for column in range(2):
        counts, _ = np.histogram(x[:, column], edges)
        assert stats.chisquare(counts).pvalue > 1e-3


def test_a_user_target_file_is_checked(tmp_path):
    header = "import numpy as np\nimport torch\nbounds = [(-5, 5), (-5, 5)]\n"
    files = {
        "good": "def log_density(x):\n    return -0.5 * (x**2).sum(1)\n",
        "numpy_target": "def f(x):\n    y = x.detach().numpy()\n"
        "    return torch.as_tensor(-(y**2).sum(1))\n",
        "nan_target": "def f(x):\n    return torch.log(x[:, 0] - 10)\n",
        # three bounds, but the function multiplies a (n,) vector by a 2-vector
        "wrong_dim": "bounds = [(-5, 5)] * 3\ndef f(x):\n    return x[:, 0] @ torch.ones(2)\n",
    }
    for name, body in files.items():
        (tmp_path / f"{name}.py").write_text(header + body)
    good, numpy_file, nan_file, wrong_dim = (tmp_path / f"{n}.py" for n in files)
    runner = CliRunner()
    cases = {
        f"{numpy_file}:f": "not differentiable",
        f"{nan_file}:f": "returns nan",
        f"{wrong_dim}:f": "does its dimension match its bounds",
        f"{good}:missing": "defines no function missing",
    }
    for spec, message in cases.items():
        result = runner.invoke(
            main, ["integrate", "train", "--target", spec, "--out", str(tmp_path / "r")]
        )
        assert result.exit_code == 2 and message in result.output, (spec, result.output)
    from physgen.integrate.targets import get_target

    target = get_target(f"{good}:log_density")
    assert target.dim == 2 and target.exact_log_z is None
