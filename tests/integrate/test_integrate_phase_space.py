"""The massless n-body phase-space map: exact conservation, a flat (symmetric) distribution,
the volume against the Dalitz-plot closed form, and a gradient that autograd can check."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from physgen.integrate.phase_space import NBodyTarget, massless_momenta, phase_space_volume
from physgen.integrate.targets import get_target


def _dot(a, b):
    return a[..., 0] * b[..., 0] - (a[..., 1:] * b[..., 1:]).sum(-1)


@pytest.mark.parametrize("n", [3, 4, 6])
def test_momenta_are_massless_conserve_four_momentum_and_are_democratic(n):
    r = torch.rand(
        100_000, 3 * n - 4, generator=torch.Generator().manual_seed(n), dtype=torch.float64
    )
    p = massless_momenta(r, n)
    torch.testing.assert_close(
        p.sum(1), torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64).expand(len(p), 4)
    )
    assert _dot(p, p).abs().max() < 1e-12 and (p[..., 0] > 0).all()
    # flat phase space is symmetric in the particles: E[E_i] = 1 / n, E[s_ij] = s / C(n, 2)
    energies = p[..., 0].mean(0).numpy()
    np.testing.assert_allclose(energies, 1 / n, atol=4 * p[..., 0].std().item() / math.sqrt(len(p)))
    pairs = [(2 * _dot(p[:, i], p[:, j])) for i in range(n) for j in range(i + 1, n)]
    for s_ij in pairs:
        assert abs(s_ij.mean().item() - 2 / (n * (n - 1))) < 5 * s_ij.std().item() / math.sqrt(
            len(p)
        )


def test_three_body_dalitz_plot_is_flat_with_the_closed_form_volume():
    r = torch.rand(50_000, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    p = massless_momenta(r, 3)
    for i, j in ((0, 1), (1, 2)):
        s_ij = (2 * _dot(p[:, i], p[:, j])).numpy()
        # uniform on the triangle s12 + s23 <= s: each marginal has density 2 (1 - x)
        assert stats.kstest(s_ij, lambda x: 1 - (1 - x) ** 2).pvalue > 1e-3
    # Phi_3 = (1 / (128 pi^3)) * (triangle area s^2 / 2) / s, Phi_2 = 1 / (8 pi)
    assert phase_space_volume(3) == pytest.approx(1 / (256 * math.pi**3), rel=1e-12)
    assert phase_space_volume(2) == pytest.approx(1 / (8 * math.pi), rel=1e-12)
    flat = get_target("nbody-4-flat")
    assert flat.exact_log_z == pytest.approx(math.log(phase_space_volume(4)))
    x = torch.rand(10, 8, dtype=torch.float64)
    torch.testing.assert_close(
        flat.log_density(x), torch.full((10,), flat.exact_log_z, dtype=torch.float64)
    )


def test_the_map_is_differentiable():
    r = (
        torch.rand(4, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.8
        + 0.1
    )
    r.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: massless_momenta(x, 4), (r,))
    target = NBodyTarget(4)
    (grad,) = torch.autograd.grad(target.log_density(r).sum(), r)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_a_flow_on_the_flat_phase_space_recovers_its_volume():
    """The bounded flow (probit of the cube) starts as the uniform density and keeps it."""
    from physgen.core.run import Run
    from physgen.integrate.sampler import DensityFlow, DensityFlowConfig, estimate
    from physgen.models.flows import FlowConfig

    target = get_target("nbody-4-flat")
    config = DensityFlowConfig(
        target=target.name, lower=tuple(target.lower), upper=tuple(target.upper), bounded=True,
        method="nis", budget=20_000, batch_size=256,
        flow=FlowConfig(kind="coupling-rqs", transforms=2, hidden=(16,)),
    )  # fmt: skip
    model = DensityFlow.from_config(config)
    model.fit(target, None, Run(progress=False))
    x = model.sample(torch.zeros(5000, 0), torch.Generator().manual_seed(0))
    assert ((x > 0) & (x < 1)).all()
    result = estimate(model, target, 50_000, seed=1)
    assert abs(result["log_z_minus_exact"]) < 4 * result["log_z_error"] + 1e-4, result
    assert result["ess_per_sample"] > 0.9
