"""The losses' minimisers are the known denoiser and velocity (1D Gaussian toy)."""

import torch

from physgen.models.diffusion import (
    DenoiserConfig,
    EDMDenoiser,
    ResidualMLP,
    VelocityField,
    edm_loss,
    flow_matching_loss,
)

MEAN, STD = 0.7, 0.5  # y ~ N(MEAN, STD^2), the same for every condition


def exact_denoiser(x, sigma):
    return MEAN + STD**2 / (STD**2 + sigma**2) * (x - MEAN)


def exact_velocity(x, t):
    variance = (1 - t) ** 2 * STD**2 + t**2
    centred = x - (1 - t) * MEAN
    return t / variance * centred - (MEAN + (1 - t) * STD**2 / variance * centred)


def train(model, loss_fn, steps=1500):
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        y = MEAN + STD * torch.randn(512, 1, generator=generator)
        loss = loss_fn(model, y, torch.zeros(512, 1), generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def small_network():
    return ResidualMLP(1, 1, DenoiserConfig(hidden=64, blocks=2, embedding=16))


def test_edm_loss_learns_the_posterior_mean():
    for weighting in ("edm", "min-snr"):
        config = DenoiserConfig(sigma_data=STD, weighting=weighting)
        denoiser = train(
            EDMDenoiser(small_network(), STD),
            lambda m, y, c, g, cfg=config: edm_loss(m, y, c, cfg, g),
        )
        for sigma in (0.1, 0.5, 2.0):
            x = torch.linspace(-1, 2, 50).unsqueeze(1)
            with torch.no_grad():
                learned = denoiser(x, torch.full((50,), sigma), torch.zeros(50, 1))
            assert (learned - exact_denoiser(x, sigma)).abs().max() < 0.05, (weighting, sigma)


def test_edm_preconditioning_limits():
    denoiser = EDMDenoiser(small_network(), sigma_data=1.0)
    x = torch.randn(10, 1)
    with torch.no_grad():  # sigma -> 0: D -> x whatever the network says
        assert torch.allclose(
            denoiser(x, torch.full((10,), 1e-6), torch.zeros(10, 1)), x, atol=1e-4
        )


def test_flow_matching_learns_the_expected_velocity():
    velocity = train(VelocityField(small_network()), flow_matching_loss, steps=2000)
    for t in (0.2, 0.5, 0.8):
        # where x_t has its mass: within 1.5 standard deviations of its mean
        spread = ((1 - t) ** 2 * STD**2 + t**2) ** 0.5
        x = (1 - t) * MEAN + spread * torch.linspace(-1.5, 1.5, 50).unsqueeze(1)
        with torch.no_grad():
            learned = velocity(x, torch.full((50,), t), torch.zeros(50, 1))
        assert (learned - exact_velocity(x, t)).abs().max() < 0.1, t
