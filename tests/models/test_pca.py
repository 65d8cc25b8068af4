import pytest
import torch

from physgen.models.pca import ProbabilisticPCA


def low_rank_plus_noise(n=4000, features=12, rank=3, noise=0.05, seed=0):
    """x = mean + a @ B + noise: variance in `rank` directions, isotropic noise elsewhere."""
    generator = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(features, rank, generator=generator))[0].T
    amplitudes = torch.randn(n, rank, generator=generator) * torch.tensor([3.0, 2.0, 1.0])
    mean = torch.linspace(-1, 1, features)
    x = mean + amplitudes @ basis + noise * torch.randn(n, features, generator=generator)
    return x, basis


def test_recovers_the_subspace_and_whitens():
    x, basis = low_rank_plus_noise()
    pca = ProbabilisticPCA(12, 3)
    explained = pca.fit(x)
    total_signal = 9 + 4 + 1
    assert abs(explained - total_signal / (total_signal + 12 * 0.05**2)) < 2e-3
    # the fitted directions span the true subspace: projecting the basis on them keeps it
    projection = basis @ pca.components.T @ pca.components
    assert torch.allclose(projection, basis, atol=1e-2)
    z = pca.encode(x)
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std(0), torch.ones(3), atol=1e-4)
    # the residual is the noise outside the subspace: variance 0.05^2 (1 - |P e_i|^2)
    expected = 0.05 * torch.sqrt(1 - (basis**2).sum(0))
    assert torch.allclose(pca.residual_std()[0], expected, rtol=0.05)


def test_decode_inverts_encode_in_the_subspace_and_adds_the_residual_noise():
    x, _ = low_rank_plus_noise(noise=0.0)
    pca = ProbabilisticPCA(12, 3)
    pca.fit(x)
    assert torch.allclose(pca.decode(pca.encode(x)), x, atol=1e-4)
    noisy, _ = low_rank_plus_noise(noise=0.2)
    pca.fit(noisy)
    z = pca.encode(noisy[:2000])
    generator = torch.Generator().manual_seed(1)
    decoded = pca.decode(z, generator)
    spread = (decoded - pca.decode(z)).std(0)
    assert torch.allclose(spread, pca.residual_std()[0], rtol=0.1)
    again = pca.decode(z, torch.Generator().manual_seed(1))
    assert torch.equal(decoded, again)


def test_state_dict_round_trips():
    x, _ = low_rank_plus_noise()
    pca = ProbabilisticPCA(12, 4)
    pca.fit(x)
    loaded = ProbabilisticPCA(12, 4)
    loaded.load_state_dict(pca.state_dict())
    assert torch.equal(loaded.encode(x), pca.encode(x))


def test_the_residual_can_depend_on_a_condition():
    """Noise whose mean and variance grow linearly with a condition c in [0, 1]."""
    generator = torch.Generator().manual_seed(3)
    n, features = 20_000, 6
    c = torch.rand(n, 1, generator=generator)
    signal = torch.randn(n, 1, generator=generator) * 5 * torch.ones(1, features)
    variance = 0.01 + 0.08 * c  # per row
    drift = torch.tensor([1.0, -1.0, 0, 0, 0, 0])  # orthogonal to the signal direction
    noise = 0.3 * c * drift + variance.sqrt() * torch.randn(n, features, generator=generator)
    pca = ProbabilisticPCA(features, 1, conditions=1)
    pca.fit(signal + noise, condition=c)
    probe = torch.tensor([[0.0], [1.0]])
    # the residual keeps the part of the noise outside the fitted direction: 5/6 of it
    width = pca.residual_std(probe)
    assert width[0].mean().item() == pytest.approx((0.01 * 5 / 6) ** 0.5, rel=0.1)
    assert width[1].mean().item() == pytest.approx((0.09 * 5 / 6) ** 0.5, rel=0.1)
    shift = pca.decode(torch.zeros(2, 1), condition=probe)
    assert torch.allclose(shift[1] - shift[0], 0.3 * drift, atol=0.02)
    with pytest.raises(ValueError, match="condition"):
        pca.decode(torch.zeros(2, 1))


def test_fit_is_bit_identical_and_leaves_the_global_rng_alone():
    """The residual's linear model is solved by the normal equations in float64: two fits of
    the same data give the same bits (LAPACK's lstsq gave run-to-run differences that moved
    latent-flow showers by up to 0.002 MeV), and the random projection of svd_lowrank no
    longer reseeds torch's global generator."""
    generator = torch.Generator().manual_seed(7)
    x = torch.rand(600, 300, generator=generator) ** 3
    c = torch.rand(600, 1, generator=generator)
    fits = []
    for _ in range(2):
        pca = ProbabilisticPCA(300, 8, conditions=1)
        torch.manual_seed(123)
        state = torch.random.get_rng_state()
        pca.fit(x, 0, c)
        assert torch.equal(torch.random.get_rng_state(), state)
        fits.append(pca.state_dict())
    assert all(torch.equal(fits[0][k], fits[1][k]) for k in fits[0])
    # the solution is the least-squares one (as LAPACK's, to rounding)
    centred = x - pca.mean
    residual = centred - (centred @ pca.components.T) @ pca.components
    design = torch.cat([torch.ones(600, 1), c], 1).double()
    expected = torch.linalg.lstsq(design, residual.double()).solution
    torch.testing.assert_close(pca.residual_mean.double(), expected, rtol=1e-4, atol=1e-6)
