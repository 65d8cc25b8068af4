"""The targets' normalisations against independent answers: exact draws of the normalised
densities (the fraction inside the box is the box's integral) and Riemann sums on grids."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from physgen.integrate.targets import Funnel, Gaussian, GaussianMixture, ManyWell, get_target
from physgen.metrics.importance import importance_estimates, unweight


def _riemann_log_z(target, points=1201):
    axes = [np.linspace(lo, hi, points) for lo, hi in zip(target.lower, target.upper, strict=True)]
    mesh = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, target.dim)
    values = target.log_density(torch.as_tensor(mesh)).numpy().reshape([points] * target.dim)
    cell = np.prod([a[1] - a[0] for a in axes])
    # trapezoid weights: exact for the smooth, tail-vanishing densities at this spacing
    weights = np.ones(points)
    weights[[0, -1]] = 0.5
    total = np.einsum("ij,i,j->", np.exp(values), weights, weights)
    return math.log(total * cell)


def test_gaussian_and_mixture_integrals_match_a_grid():
    for target in (Gaussian(dim=2), GaussianMixture()):
        assert _riemann_log_z(target, 801) == pytest.approx(target.exact_log_z, abs=1e-6)
    assert GaussianMixture().exact_log_z == pytest.approx(0.0, abs=1e-12)  # all mass inside


def test_many_well_log_z_from_its_factors():
    two = ManyWell(dim=2)
    assert _riemann_log_z(two, 2001) == pytest.approx(two.exact_log_z, abs=1e-6)
    assert ManyWell().exact_log_z == pytest.approx(16 * two.exact_log_z, rel=1e-12)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(5, 32, dtype=torch.float64, generator=generator).clamp(-2.9, 2.9)
    # the 32-D density is the sum of its 16 pairs
    pairs = sum(two.log_density(x[:, 2 * i : 2 * i + 2]) for i in range(16))
    torch.testing.assert_close(ManyWell().log_density(x), pairs)


def test_funnel_box_integral_against_exact_draws():
    target = Funnel()
    rng = np.random.default_rng(0)
    n = 400_000
    v = rng.normal(0, 3, n)
    x = rng.normal(size=(n, 9)) * np.exp(v / 2)[:, None]
    inside = target.inside(torch.as_tensor(np.column_stack([v, x]))).numpy()
    fraction = inside.mean()
    error = math.sqrt(fraction * (1 - fraction) / n)
    assert abs(fraction - math.exp(target.exact_log_z)) < 4 * error
    # the density is normalised on R^10: Funnel's log-density of an exact draw is its log-pdf
    point = torch.tensor([[0.3] + [0.1] * 9], dtype=torch.float64)
    expected = -0.5 * 0.09 / 9 - math.log(3 * math.sqrt(2 * math.pi))
    expected += 9 * (-0.5 * 0.01 / math.exp(0.3) - 0.15 - 0.5 * math.log(2 * math.pi))
    assert target.log_density(point).item() == pytest.approx(expected, rel=1e-12)


def test_density_is_zero_outside_the_box():
    target = get_target("gmm-40")
    outside = torch.tensor([[60.0, 0.0], [0.0, -55.0]])
    assert torch.isinf(target.log_density(outside)).all()


def test_importance_estimates_of_known_weights():
    exact = importance_estimates(np.zeros(1000) + 2.0)  # q = p / e^2
    assert exact["log_z"] == pytest.approx(2.0) and exact["log_z_error"] == 0.0
    assert exact["ess_per_sample"] == pytest.approx(1.0) and exact["unweighting_efficiency"] == 1
    w = np.random.default_rng(1).exponential(size=5000)
    result = importance_estimates(np.log(w))
    assert result["log_z"] == pytest.approx(math.log(w.mean()))
    assert result["ess_per_sample"] == pytest.approx(w.sum() ** 2 / (5000 * (w**2).sum()))
    assert result["unweighting_efficiency"] == pytest.approx(w.mean() / w.max())
    assert result["log_z_error"] == pytest.approx(w.std(ddof=1) / math.sqrt(5000) / w.mean())
    kept = unweight(np.log(w), np.random.default_rng(2))
    assert len(kept) / 5000 == pytest.approx(w.mean() / w.max(), abs=0.02)


def test_probit_maps_uniform_to_normal_with_its_log_determinant():
    from physgen.models.preprocessing import Probit

    probit = Probit()
    u = torch.rand(20000, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y, ladj = probit(u)
    for column in range(3):
        assert stats.kstest(y[:, column].numpy(), "norm").pvalue > 1e-3
    expected = (0.5 * y**2 + 0.5 * math.log(2 * math.pi)).sum(1)  # -log phi(y), alpha ~ 0
    torch.testing.assert_close(ladj, expected, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(probit.inverse(y), u, rtol=0, atol=1e-9)
