import math

import pytest
import torch

from physgen.models.flows import ConditionalFlow, FlowConfig
from physgen.models.preprocessing import Chain, Log, Logit, MarginalGaussianize, Standardize

KINDS = ["coupling-rqs", "coupling-affine", "maf", "nsf", "iaf"]


def randomized_flow(kind, features=4, context=2, preprocessing=None):
    torch.manual_seed(0)
    flow = ConditionalFlow(
        features, context, FlowConfig(kind=kind, transforms=4, hidden=(16,)), preprocessing
    )
    with torch.no_grad():  # leave the identity initialisation so the test means something
        for parameter in flow.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return flow


@pytest.mark.parametrize("kind", KINDS)
def test_flow_inverts_itself(kind):
    flow = randomized_flow(kind)
    x, c = torch.randn(64, 4), torch.randn(64, 2)
    z, _ = flow.to_latent(x, c)
    assert (z - x).abs().max() > 1e-2  # not the identity
    assert torch.allclose(flow.from_latent(z, c), x, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_log_det_matches_autograd_jacobian(kind):
    flow = randomized_flow(kind, features=3, context=1)
    x, c = torch.randn(1, 3), torch.randn(1, 1)
    _, ladj = flow.to_latent(x, c)
    jacobian = torch.autograd.functional.jacobian(lambda v: flow.to_latent(v, c)[0], x)
    assert ladj.item() == pytest.approx(
        torch.linalg.slogdet(jacobian.reshape(3, 3))[1].item(), abs=1e-4
    )


@pytest.mark.parametrize("kind", ["coupling-rqs", "nsf"])
def test_log_prob_is_a_normalised_density(kind):
    flow = randomized_flow(kind, features=2, context=1)
    axis = torch.linspace(-12, 12, 601)
    grid = torch.cartesian_prod(axis, axis)
    density = flow.log_prob(grid, torch.full((len(grid), 1), 0.3)).exp().detach().reshape(601, 601)
    integral = torch.trapezoid(torch.trapezoid(density, axis, dim=1), axis).item()
    assert integral == pytest.approx(1.0, abs=2e-3)


def test_preprocessing_round_trip_and_log_det():
    x = torch.rand(50, 3) * 0.98 + 0.01
    chain = Chain(Logit(1e-6), Standardize(3))
    chain.transforms[1].fit(chain.transforms[0](x)[0])
    y, ladj = chain(x)
    assert torch.allclose(chain.inverse(y), x, atol=1e-5)
    jacobian = torch.autograd.functional.jacobian(lambda v: chain(v)[0], x[:1])
    assert ladj[0].item() == pytest.approx(torch.logdet(jacobian.reshape(3, 3)).item(), abs=1e-4)
    log = Log(1e-3)
    values = torch.rand(10, 2)
    assert torch.allclose(log.inverse(log(values)[0]), values, atol=1e-5)


def spike_and_bump(n, seed):
    """Voxel-like values: 70% tiny dequantisation noise, 30% a log-normal deposit; and a
    smooth feature beside them."""
    generator = torch.Generator().manual_seed(seed)
    noise = 0.015 * torch.rand(n, generator=generator)
    deposit = torch.exp(1 + torch.randn(n, generator=generator))
    voxel = torch.where(torch.rand(n, generator=generator) < 0.7, noise, deposit)
    return torch.stack([voxel, torch.rand(n, generator=generator)], 1)


def test_marginal_gaussianize_makes_each_feature_standard_normal_and_back():
    x = spike_and_bump(20_000, 0)
    gaussianize = MarginalGaussianize(2).fit(x)
    y, ladj = gaussianize(x)
    assert torch.allclose(y.mean(0), torch.zeros(2), atol=0.01)
    assert torch.allclose(y.std(0), torch.ones(2), atol=0.02)
    # inside the fitted range it inverts itself
    inside = x[(y.abs() < 3).all(1)]
    assert torch.allclose(gaussianize.inverse(gaussianize(inside)[0]), inside, rtol=1e-4, atol=1e-6)
    # standard normal draws come back with the data's marginal: the spike's share and the
    # deposit's median
    fresh = gaussianize.inverse(torch.randn(20_000, 2, generator=torch.Generator().manual_seed(1)))
    assert (fresh[:, 0] < 0.015).float().mean().item() == pytest.approx(0.7, abs=0.01)
    deposits = fresh[:, 0][fresh[:, 0] > 0.015]
    assert deposits.median().item() == pytest.approx(2.718, rel=0.05)
    # the log-determinant is that of the element-wise derivative
    point = x[:1].clone()
    jacobian = torch.autograd.functional.jacobian(lambda v: gaussianize(v)[0], point)
    assert ladj[0].item() == pytest.approx(torch.logdet(jacobian.reshape(2, 2)).item(), abs=1e-3)


def test_marginal_gaussianize_survives_repeated_values():
    x = torch.zeros(1000, 1)
    x[500:] = torch.rand(500, 1) + 1
    gaussianize = MarginalGaussianize(1).fit(x)
    y, _ = gaussianize(x)
    assert torch.isfinite(y).all()
    assert y[:500].max() < y[500:].min()  # the tie stays below the larger values
    bulk = (x > 1) & (x < x.max() - 0.01)  # the maximum sits in the clamped tail
    assert torch.allclose(gaussianize.inverse(y)[bulk], x[bulk], atol=1e-5)


def test_binned_marginal_gaussianize_is_standard_normal_at_each_condition():
    # the occupancy of a voxel-like feature rises with the condition c: 90% empty at low c,
    # 30% at high c; one table over all c maps the low-c rows far from N(0, 1)
    generator = torch.Generator().manual_seed(2)
    c = torch.rand(40_000, generator=generator)
    empty = torch.rand(40_000, generator=generator) < 0.9 - 0.6 * c
    deposit = torch.exp(1 + c + torch.randn(40_000, generator=generator))
    x = torch.where(empty, 0.015 * torch.rand(40_000, generator=generator), deposit)[:, None]
    binned = MarginalGaussianize(1, bins=8).fit(x, c)
    y, ladj = binned(x, c)
    low, high = c < 1 / 8, c > 7 / 8  # the first and last bin
    for rows in (low, high):
        assert y[rows].mean().item() == pytest.approx(0, abs=0.05)
        assert y[rows].std().item() == pytest.approx(1, abs=0.05)
    single = MarginalGaussianize(1).fit(x)
    assert single(x)[0][low].mean().item() < -0.3  # what the bins are for
    # standard normal draws at a low condition come back mostly empty, as the data there
    fresh = binned.inverse(torch.randn(20_000, 1, generator=generator), torch.full((20_000,), 0.05))
    assert (fresh < 0.015).float().mean().item() == pytest.approx(0.87, abs=0.02)
    # each row goes through its own bin's table, and back
    inside = (y.abs() < 3).squeeze(1)
    assert torch.allclose(binned.inverse(y, c)[inside], x[inside], rtol=1e-4, atol=1e-6)
    first = c <= binned.edges[0]  # the first bin's rows: the same as a table fitted on them
    alone_y, alone_ladj = MarginalGaussianize(1).fit(x[first])(x[first])
    both = inside[first]
    assert torch.allclose(y[first][both], alone_y[both], atol=1e-5)
    assert torch.allclose(ladj[first][both], alone_ladj[both], atol=1e-4)
    with pytest.raises(ValueError, match="condition"):
        binned(x)


def test_marginal_gaussianize_loads_a_single_table_written_before_the_bins():
    x = spike_and_bump(2000, 3)
    fitted = MarginalGaussianize(2).fit(x)
    state = {k: v.squeeze(0) if k == "quantiles" else v for k, v in fitted.state_dict().items()}
    del state["edges"]
    loaded = MarginalGaussianize(2)
    loaded.load_state_dict(state)
    assert torch.equal(loaded(x)[0], fitted(x)[0])


@pytest.mark.parametrize("kind", ["coupling-affine", "nsf"])
def test_preprocessed_flow_inverts_to_original_space(kind):
    chain = Chain(Logit(1e-6), Standardize(4))
    flow = randomized_flow(kind, preprocessing=chain)
    x, c = torch.rand(32, 4) * 0.9 + 0.05, torch.randn(32, 2)
    chain.transforms[1].fit(chain.transforms[0](x)[0])
    z, _ = flow.to_latent(x, c)
    assert torch.allclose(flow.from_latent(z, c), x, atol=1e-4)


def test_distilled_iaf_student_reproduces_its_maf_teacher():
    """After distillation the one-pass student maps latents to (nearly) the teacher's samples."""
    from physgen.core.training import TrainingConfig, fit
    from physgen.models.flows import distillation_loss

    torch.manual_seed(1)
    n, features = 4000, 5
    c = torch.rand(n, 1)
    x = torch.randn(n, features) * (0.5 + c) + torch.cumsum(torch.randn(n, features), 1) * 0.3
    teacher = ConditionalFlow(features, 1, FlowConfig(kind="maf", transforms=3, hidden=(32, 32)))
    training = TrainingConfig(epochs=15, batch_size=200, learning_rate=3e-3, patience=None)
    fit(teacher, lambda f, xb, cb: -f.log_prob(xb, cb).mean(), (x, c), training, progress=False)
    student = ConditionalFlow(features, 1, FlowConfig(kind="iaf", transforms=3, hidden=(64, 64)))
    z, context = torch.randn(500, features), torch.rand(500, 1)
    with torch.no_grad():
        target = teacher.from_latent(z, context)
        before = ((student.from_latent(z, context) - target) ** 2).mean() / target.var()
    teacher.requires_grad_(False)
    history = fit(
        student,
        lambda s, xb, cb: distillation_loss(teacher, s, xb, cb),
        (x, c),
        TrainingConfig(epochs=30, batch_size=200, learning_rate=3e-3, patience=None),
        progress=False,
    )
    with torch.no_grad():
        after = ((student.from_latent(z, context) - target) ** 2).mean() / target.var()
    assert history["history"][-1]["train_loss"] < history["history"][0]["train_loss"]
    assert after < 0.02 and after < before / 20, (before, after)


def test_affine_coupling_layers_can_contract():
    """physgen 0.1.0 passed exp(log-scale) where zuko takes the log-scale: every affine
    coupling layer stretched (log|det| > 0 whatever its parameters)."""
    from physgen.models.flows import CouplingLayer, FlowConfig

    mask = torch.tensor([True, False])
    layer = CouplingLayer(mask, 0, FlowConfig(kind="coupling-affine", hidden=(4,)))
    last = layer.net[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor([-1.0, 0.0]))  # (log-scale parameter, shift)
    x = torch.randn(5, 2)
    y, ladj = layer(x)
    expected = 2 * torch.tanh(torch.tensor(-0.5))  # the bounded log-scale, before zuko's clip
    assert (ladj < 0).all() and torch.allclose(y[:, 0], x[:, 0])
    assert torch.allclose(ladj, expected / (1 + abs(expected / math.log(1e-3))), atol=1e-6)
    assert torch.allclose(layer.inverse(y), x, atol=1e-6)
