"""The IQN recovers a conditional distribution known in closed form."""

import numpy as np
import pytest
import torch
from scipy import stats

from physgen.core.training import TrainingConfig, fit
from physgen.models.iqn import AutoregressiveIQN, IQNConfig, pinball_loss


def synthetic(n, seed):
    """x ~ U(1, 3); y1 | x ~ N(x, (0.1 + 0.1 x)^2); y2 | x, y1 ~ N(0.5 y1, 0.2^2)."""
    generator = torch.Generator().manual_seed(seed)
    x = 1 + 2 * torch.rand(n, 1, generator=generator)
    y1 = x[:, 0] + (0.1 + 0.1 * x[:, 0]) * torch.randn(n, generator=generator)
    y2 = 0.5 * y1 + 0.2 * torch.randn(n, generator=generator)
    return x, torch.stack([y1, y2], 1)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    x, y = synthetic(8000, 0)
    model = AutoregressiveIQN(1, 2, IQNConfig(hidden=(64, 64)))
    model.fit_scaling(x, y)
    fit(
        model,
        lambda m, xb, yb: m.loss(xb, yb),
        (x, y),
        TrainingConfig(
            epochs=40, batch_size=256, learning_rate=3e-3, patience=None, validation_fraction=0.0
        ),
        progress=False,
    )
    return model


def test_pinball_loss_is_minimised_by_the_quantile():
    values = torch.randn(20000, generator=torch.Generator().manual_seed(1))
    candidates = torch.linspace(-2, 2, 401)
    for tau in (0.1, 0.5, 0.9):
        losses = [pinball_loss(values - c, torch.tensor(tau)).mean() for c in candidates]
        best = candidates[int(np.argmin(losses))].item()
        assert best == pytest.approx(stats.norm.ppf(tau), abs=0.03)


def test_learned_quantiles_match_the_true_ones(trained):
    x = torch.tensor([[1.5], [2.5]])
    for tau in (0.1, 0.5, 0.9):
        taus = torch.full((2,), tau)
        q1 = trained.quantile(x, torch.zeros(2, 2), 0, taus)
        true_q1 = x[:, 0] + (0.1 + 0.1 * x[:, 0]) * stats.norm.ppf(tau)
        assert torch.allclose(q1, true_q1.float(), atol=0.06), (tau, q1, true_q1)
        y_prev = torch.tensor([[1.5, 0.0], [2.5, 0.0]])
        q2 = trained.quantile(x, y_prev, 1, taus)
        true_q2 = 0.5 * y_prev[:, 0] + 0.2 * stats.norm.ppf(tau)
        assert torch.allclose(q2, true_q2.float(), atol=0.06), (tau, q2, true_q2)


def test_samples_pass_probability_integral_closure(trained):
    x, _ = synthetic(4000, 5)
    y = trained.sample(x, torch.Generator().manual_seed(2))
    pit1 = stats.norm.cdf((y[:, 0] - x[:, 0]) / (0.1 + 0.1 * x[:, 0]))
    pit2 = stats.norm.cdf((y[:, 1] - 0.5 * y[:, 0]) / 0.2)
    # stated tolerance: the PIT distribution is within 0.08 of uniform (KS distance); the
    # tails (tau near 0 or 1) are where a small IQN trained for seconds is least exact
    for pit in (pit1, pit2):
        assert stats.kstest(np.asarray(pit), "uniform").statistic < 0.08


def test_quantiles_are_monotonic(trained):
    x = torch.linspace(1, 3, 50).unsqueeze(1)
    previous = None
    for tau in torch.linspace(0.02, 0.98, 25):
        q = trained.quantile(x, torch.zeros(50, 2), 0, torch.full((50,), float(tau)))
        if previous is not None:
            assert torch.all(q >= previous - 1e-3)
        previous = q


class ExactQuantiles(AutoregressiveIQN):
    """The closed-form quantile function of ``synthetic``: checks the PIT machinery alone."""

    def quantile(self, x, y_prev, feature, tau):
        z = torch.as_tensor(stats.norm.ppf(tau.double().numpy()), dtype=x.dtype)
        if feature == 0:
            return x[:, 0] + (0.1 + 0.1 * x[:, 0]) * z
        return 0.5 * y_prev[:, 0] + 0.2 * z


def test_pit_of_the_exact_quantile_function_is_the_exact_cdf():
    x, y = synthetic(3000, 7)
    u = ExactQuantiles(1, 2).pit(x, y, n_grid=401)
    exact1 = stats.norm.cdf((y[:, 0] - x[:, 0]) / (0.1 + 0.1 * x[:, 0]))
    exact2 = stats.norm.cdf((y[:, 1] - 0.5 * y[:, 0]) / 0.2)
    inside = (exact1 > 0.001) & (exact1 < 0.999)
    assert np.abs(u[:, 0].numpy() - exact1)[inside].max() < 2e-3
    inside = (exact2 > 0.001) & (exact2 < 0.999)
    assert np.abs(u[:, 1].numpy() - exact2)[inside].max() < 2e-3
    assert ExactQuantiles(1, 2).monotonicity_violations(x[:200], y[:200]) == 0.0


def test_trained_model_pit_of_held_out_truth_is_uniform(trained):
    x, y = synthetic(4000, 8)
    u = trained.pit(x, y)
    for column in u.T:
        assert stats.kstest(column.numpy(), "uniform").statistic < 0.08
    assert trained.monotonicity_violations(x[:500], y[:500]) < 0.01
