import numpy as np
import pytest

from physgen.metrics.distances import fpd, frechet_distance, kpd, mmd2_polynomial


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    # |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2 = 4 + 1 + 1
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(6.0)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-10)


def test_fpd_zero_for_same_distribution_and_positive_for_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(6000, 4)), rng.normal(size=(6000, 4))
    value, error = fpd(a, b, min_samples=2000, max_samples=6000, num_batches=4, num_points=4)
    assert abs(value) < 3 * error + 1e-3
    shifted = b.copy()
    shifted[:, 0] += 1.0
    # features are divided by the reference's max |x| (~4 for 6000 normal draws)
    scale = np.abs(a[:, 0]).max()
    value, _ = fpd(a, shifted, min_samples=2000, max_samples=6000, num_batches=4, num_points=4)
    assert value == pytest.approx(1.0 / scale**2, rel=0.1)


def test_kpd_near_zero_for_same_distribution():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    median, half_iqr = kpd(a, b, num_batches=8, batch_size=1000)
    assert abs(median) < 1e-3
    assert mmd2_polynomial(a[:1000], a[:1000] + 2.0) > 0.1
