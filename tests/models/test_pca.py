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
    assert torch.allclose(pca.residual_std, expected, rtol=0.05)


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
    assert torch.allclose(spread, pca.residual_std, rtol=0.1)
    again = pca.decode(z, torch.Generator().manual_seed(1))
    assert torch.equal(decoded, again)


def test_state_dict_round_trips():
    x, _ = low_rank_plus_noise()
    pca = ProbabilisticPCA(12, 4)
    pca.fit(x)
    loaded = ProbabilisticPCA(12, 4)
    loaded.load_state_dict(pca.state_dict())
    assert torch.equal(loaded.encode(x), pca.encode(x))
