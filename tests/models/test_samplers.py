"""Samplers on Gaussian data, whose denoiser and probability-flow solution are exact."""

import math

import pytest
import torch

from physgen.models.samplers import (
    SAMPLERS,
    karras_sigmas,
    nfe,
    sample_fm_euler,
    sample_fm_midpoint,
    uniform_times,
)

MU = torch.tensor([1.0, -2.0], dtype=torch.float64)
_A = torch.tensor([[1.0, 0.5], [0.0, 0.7]], dtype=torch.float64)
COV = _A @ _A.T
EIGENVALUES, EIGENVECTORS = torch.linalg.eigh(COV)


def matrix_function(values):
    return EIGENVECTORS @ torch.diag(values) @ EIGENVECTORS.T


def exact_denoiser(x, sigma):
    """E[y | y + sigma n = x] for y ~ N(MU, COV)."""
    gain = matrix_function(EIGENVALUES / (EIGENVALUES + sigma[0] ** 2))
    return MU + (x - MU) @ gain.T


def exact_ode_solution(x_start, sigma_start, sigma_end):
    scale = matrix_function(
        torch.sqrt((EIGENVALUES + sigma_end**2) / (EIGENVALUES + sigma_start**2))
    )
    return MU + (x_start - MU) @ scale.T


def ode_error(name, steps, n=2000):
    x = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 80
    sigmas = karras_sigmas(steps)[:-1]  # stop at sigma_min to compare with the exact flow
    out = SAMPLERS[name](exact_denoiser, x.clone(), sigmas)
    return (out - exact_ode_solution(x, 80.0, float(sigmas[-1]))).abs().max().item()


@pytest.mark.parametrize(
    ("name", "order"), [("euler", 1), ("heun", 2), ("dpmpp2m", 2), ("lms", 2), ("unipc", 2)]
)
def test_deterministic_samplers_converge_at_their_order(name, order):
    errors = [ode_error(name, steps) for steps in (16, 32, 64)]
    assert errors[2] < errors[1] < errors[0]
    observed = math.log2(errors[1] / errors[2])
    assert observed > order - 0.25, f"{name}: observed order {observed:.2f}"


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samples_match_the_target_gaussian(name):
    n = 20000
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(n, 2, dtype=torch.float64, generator=generator) * 80
    kwargs = {"noise": generator} if name in ("edm", "ddpm", "restart") else {}
    if name == "edm":
        kwargs["s_noise"] = 1.0  # EDM's 1.003 compensates imperfect networks, not an exact D
    # first-order samplers need more steps for their bias to fall below the sampling error
    steps = {"euler": 512, "ddpm": 256, "edm": 128}.get(name, 48)
    out = SAMPLERS[name](exact_denoiser, x, karras_sigmas(steps), **kwargs)
    standard_error = torch.sqrt(torch.diag(COV) / n)
    assert torch.all((out.mean(0) - MU).abs() < 4 * standard_error + 2e-3)
    assert torch.allclose(torch.cov(out.T), COV, atol=0.05)


@pytest.mark.parametrize("name", ["edm", "ddpm", "restart"])
def test_stochastic_samplers_are_deterministic_per_seed(name):
    def run(seed):
        generator = torch.Generator().manual_seed(seed)
        x = torch.randn(100, 2, dtype=torch.float64, generator=generator) * 80
        return SAMPLERS[name](exact_denoiser, x, karras_sigmas(10), noise=generator)

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_ddpm_covariance_error_falls_with_steps():
    def covariance_error(steps):
        generator = torch.Generator().manual_seed(2)
        x = torch.randn(20000, 2, dtype=torch.float64, generator=generator) * 80
        out = SAMPLERS["ddpm"](exact_denoiser, x, karras_sigmas(steps), noise=generator)
        return (torch.cov(out.T) - COV).abs().max().item()

    assert covariance_error(256) < covariance_error(64) < covariance_error(16)


def fm_velocity(x, t):
    """Exact velocity of the path x_t = (1 - t) y + t eps for Gaussian y."""
    s = t[0]
    cov_t = (1 - s) ** 2 * EIGENVALUES + s**2
    centred = x - (1 - s) * MU
    eps_mean = centred @ matrix_function(s / cov_t).T
    y_mean = MU + centred @ matrix_function((1 - s) * EIGENVALUES / cov_t).T
    return eps_mean - y_mean


def fm_exact(x1, t_end):
    scale = matrix_function(torch.sqrt((1 - t_end) ** 2 * EIGENVALUES + t_end**2))
    return (1 - t_end) * MU + x1 @ scale.T


@pytest.mark.parametrize(("sampler", "order"), [(sample_fm_euler, 1), (sample_fm_midpoint, 2)])
def test_flow_matching_samplers(sampler, order):
    x1 = torch.randn(1000, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    errors = []
    for steps in (16, 32, 64):
        times = uniform_times(steps)
        errors.append(
            (sampler(fm_velocity, x1.clone(), times) - fm_exact(x1, 0.0)).abs().max().item()
        )
    assert math.log2(errors[1] / errors[2]) > order - 0.25


def test_karras_schedule_and_nfe():
    sigmas = karras_sigmas(10, 0.002, 80.0)
    assert (
        len(sigmas) == 11
        and sigmas[0] == pytest.approx(80.0)
        and sigmas[-2] == pytest.approx(0.002)
    )
    assert sigmas[-1] == 0 and torch.all(sigmas[1:] < sigmas[:-1])
    assert nfe("heun", 10) == 19 and nfe("dpmpp2m", 10) == 10 and nfe("restart", 10) == 27


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_samplers_are_pure_and_take_any_batch_shape(name):
    """No gradient graph (the denoiser has parameters), the input untouched, any shape with
    the batch first, and the same rows whatever the batch (a RowNoise source)."""
    from physgen.models.noise import RowNoise

    weight = torch.nn.Parameter(torch.tensor(0.5))

    def denoiser(x, sigma):
        return weight * x / (1 + sigma.view(-1, *([1] * (x.dim() - 1))) ** 2)

    x = torch.randn(6, 3, 2, generator=torch.Generator().manual_seed(0)) * 80
    before = x.clone()
    kwargs = {"noise": RowNoise(7, 0, 6)} if name in ("edm", "ddpm", "restart") else {}
    out = SAMPLERS[name](denoiser, x, karras_sigmas(5).float(), **kwargs)
    assert out.shape == x.shape and not out.requires_grad and torch.equal(x, before)
    assert torch.isfinite(out).all()
    if kwargs:  # rows 2..5 alone get the numbers they get in the whole batch
        part = SAMPLERS[name](denoiser, x[2:], karras_sigmas(5).float(), noise=RowNoise(7, 2, 6))
        torch.testing.assert_close(part, out[2:])
