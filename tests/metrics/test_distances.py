"""FPD and KPD against values computed independently from their published definitions
(Kansal et al., arXiv:2211.10295, as implemented by JetNet and called by the CaloChallenge)."""

import inspect

import numpy as np
import pytest
from scipy import linalg, optimize

from physgen.metrics import distances
from physgen.metrics.distances import fpd, fpd_batch_sizes, frechet_distance, kpd, mmd2_polynomial


def poly4(a, b):
    return (float(np.dot(a, b)) / len(a) + 1.0) ** 4


def mmd2_double_loop(x, y):
    """Unbiased MMD^2 with the degree-4 polynomial kernel, written out pair by pair."""
    m, n = len(x), len(y)
    xx = sum(poly4(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(poly4(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(poly4(x[i], y[j]) for i in range(m) for j in range(n))
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


def scaled_by_reference(reference, generated):
    scale = np.abs(reference).max(0)
    return reference / scale, generated / scale


def test_defaults_are_the_calochallenge_calls():
    # CaloChallenge: jetnet fpd(min_samples=10000), kpd(batch_size=10000), JetNet defaults else
    f = inspect.signature(fpd).parameters
    assert (f["min_samples"].default, f["max_samples"].default) == (10_000, 50_000)
    assert (f["num_batches"].default, f["num_points"].default) == (20, 10)
    k = inspect.signature(kpd).parameters
    assert (k["num_batches"].default, k["batch_size"].default) == (10, 10_000)


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0]), np.array([2.0, 1.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 1.0])
    # |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2 = 4 + 1 + 1
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(6.0)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-10)


def test_frechet_distance_of_non_commuting_covariances_closed_form():
    # 2 x 2: Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) for M = S1 S2 (eigenvalues real, >= 0)
    mu1, mu2 = np.array([0.3, -1.0]), np.array([1.0, 0.5])
    s1 = np.array([[2.0, 0.9], [0.9, 1.0]])
    s2 = np.array([[0.5, -0.3], [-0.3, 3.0]])
    product = s1 @ s2
    tr_sqrt = np.sqrt(np.trace(product) + 2 * np.sqrt(np.linalg.det(product)))
    expected = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_matches_matrix_square_root():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    root = np.real(linalg.sqrtm(s1 @ s2))
    expected = (mu1 - mu2) @ (mu1 - mu2) + np.trace(s1 + s2 - 2 * root)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-10)


def test_mmd2_polynomial_is_the_unbiased_degree_4_estimator():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 3))
    x[5] = x[1]  # a repeated row is a distinct batch member (batches drawn with replacement)
    y = rng.normal(loc=0.4, size=(5, 3))
    assert mmd2_polynomial(x, y) == pytest.approx(mmd2_double_loop(x, y), rel=1e-12)


def test_kernel_sums_do_not_depend_on_the_block_size(monkeypatch):
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 4)), rng.normal(loc=0.2, size=(25, 4))
    whole = mmd2_polynomial(x, y)
    monkeypatch.setattr(distances, "_KERNEL_BLOCK_ELEMENTS", 7)
    assert mmd2_polynomial(x, y) == pytest.approx(whole, rel=1e-12)


def test_kpd_matches_the_definition_on_seeded_batches():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=(60, 3))
    generated = rng.normal(loc=0.3, scale=1.2, size=(55, 3))
    # batches of rows drawn with replacement
    median, error = kpd(reference, generated, num_batches=7, batch_size=50, seed=11)
    x, y = scaled_by_reference(reference, generated)
    values = []
    for i in range(7):
        batch_rng = np.random.default_rng(11 + 1000 * i)
        xi = x[batch_rng.choice(60, size=50, replace=True)]
        yi = y[batch_rng.choice(55, size=50, replace=True)]
        values.append(mmd2_double_loop(xi, yi))
    low, high = np.percentile(values, [16.275, 83.725])
    assert median == pytest.approx(np.median(values), rel=1e-10)
    assert error == pytest.approx((high - low) / 2, rel=1e-10)


@pytest.mark.parametrize("batch_size", [100, 250])
def test_kpd_error_is_not_zero_at_or_beyond_the_sample_size(batch_size):
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    _, error = kpd(a, b, num_batches=8, batch_size=batch_size)
    # batches without replacement would all be the whole sample: a spread of float round-off
    assert error > 1e-4


def test_kpd_near_zero_for_same_distribution():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    median, error = kpd(a, b, num_batches=8, batch_size=1000)
    assert abs(median) < 1e-3 and error > 0
    assert mmd2_polynomial(a[:1000], a[:1000] + 2.0) > 0.1


def test_fpd_batch_sizes_are_evenly_spaced_in_inverse_n():
    sizes = fpd_batch_sizes(10_000, 50_000, 10)
    assert len(sizes) == 10 and sizes[0] == 10_000 and abs(sizes[-1] - 50_000) <= 1
    steps = np.diff(1.0 / sizes)
    assert np.allclose(steps, (1 / 50_000 - 1 / 10_000) / 9, rtol=1e-3)


def test_fpd_extrapolates_an_exact_a_plus_b_over_n_to_its_intercept(monkeypatch):
    seen = []

    def batch_size_as_mean(x, indices):
        seen.append(len(indices))
        return np.array([float(len(indices))]), np.eye(1)

    monkeypatch.setattr(distances, "_mean_cov", batch_size_as_mean)
    monkeypatch.setattr(distances, "frechet_distance", lambda m1, s1, m2, s2: 0.25 + 40.0 / m1[0])
    data = np.ones((100, 2))
    value, error = fpd(data, data, min_samples=100, max_samples=1000, num_batches=3, num_points=5)
    sizes = fpd_batch_sizes(100, 1000, 5)
    assert seen == [int(s) for s in sizes for _ in range(3) for _ in range(2)]
    assert value == pytest.approx(0.25, rel=1e-9)
    assert error == pytest.approx(0.0, abs=1e-9)


def test_intercept_fit_is_jetnets_bounded_curve_fit():
    rng = np.random.default_rng(8)
    inverse_n = 1.0 / fpd_batch_sizes(10_000, 50_000, 10)
    values = 0.02 + 300.0 * inverse_n + rng.normal(scale=1e-3, size=10)
    value, error = distances._intercept_fit(inverse_n, values)
    params, covariance = optimize.curve_fit(
        lambda t, a, b: a + b * t, inverse_n, values, bounds=([0, 0], [np.inf, np.inf])
    )
    assert value == pytest.approx(params[0], rel=1e-6)
    assert error == pytest.approx(np.sqrt(covariance[0, 0]), rel=1e-6)
    # a line with a negative intercept is held at FPD_inf = 0 (the slope fitted through 0)
    assert distances._intercept_fit(inverse_n, -0.01 + 1e3 * inverse_n)[0] == 0.0


def test_fpd_matches_the_definition_on_seeded_batches():
    rng = np.random.default_rng(9)
    reference = rng.normal(size=(50, 3))
    generated = rng.normal(loc=0.5, scale=1.3, size=(40, 3))
    value, error = fpd(
        reference, generated, min_samples=20, max_samples=80, num_batches=3, num_points=4, seed=7
    )
    x, y = scaled_by_reference(reference, generated)
    sizes = (1.0 / np.linspace(1 / 20, 1 / 80, 4)).astype(int)
    draw = np.random.default_rng(7)
    means = []
    for size in sizes:
        per_batch = []
        for _ in range(3):
            xi = x[draw.choice(50, size=size, replace=True)]
            yi = y[draw.choice(40, size=size, replace=True)]
            s1, s2 = np.cov(xi, rowvar=False), np.cov(yi, rowvar=False)
            diff = xi.mean(0) - yi.mean(0)
            root = np.real(linalg.sqrtm(s1 @ s2))
            per_batch.append(diff @ diff + np.trace(s1 + s2 - 2 * root))
        means.append(np.mean(per_batch))
    # ordinary least squares of mean FPD on 1/N, intercept and its standard error
    t, f = 1.0 / sizes, np.array(means)
    n = len(t)
    slope = (n * (t * f).sum() - t.sum() * f.sum()) / (n * (t * t).sum() - t.sum() ** 2)
    intercept = (f.sum() - slope * t.sum()) / n
    assert intercept > 0 and slope > 0  # inside the bounds: the bounded fit is this one
    s2 = ((f - intercept - slope * t) ** 2).sum() / (n - 2)
    stderr = np.sqrt(s2 * (t * t).sum() / (n * (t * t).sum() - t.sum() ** 2))
    assert value == pytest.approx(intercept, rel=1e-9)
    assert error == pytest.approx(stderr, rel=1e-9)


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


@pytest.mark.parametrize("distance", ["kpd", "fpd"])
def test_below_a_batch_the_error_is_the_sampling_spread(distance):
    """Samples smaller than a batch: the value is the whole-sample statistic and its error the
    delete-half jackknife, which must match the spread of the value over independent samples of
    the same size (Monte Carlo, 200 pairs) - not the resampling noise of repeated rows."""
    function = kpd if distance == "kpd" else fpd

    def draw(rng):
        return rng.normal(size=(300, 3)), rng.normal(loc=0.25, scale=1.1, size=(300, 3))

    rng = np.random.default_rng(21)
    a, b = draw(rng)
    value, error = function(a, b, seed=5)
    x, y = scaled_by_reference(a, b)
    if distance == "kpd":
        assert value == pytest.approx(mmd2_polynomial(x, y), rel=1e-12)
    spread = np.std([function(*draw(rng), resamples=2)[0] for _ in range(200)], ddof=1)
    assert 0.6 < error / spread < 1.6


def test_the_small_sample_fpd_has_no_1_over_n_bias():
    """Two samples of one distribution: the Frechet distance of their Gaussian fits is > 0 by
    ~d/N; the bias-corrected value averages to 0 over independent pairs."""
    rng = np.random.default_rng(4)
    values, plain = [], []
    for _ in range(100):
        a, b = rng.normal(size=(200, 6)), rng.normal(size=(200, 6))
        values.append(fpd(a, b, resamples=10)[0])
        x, y = scaled_by_reference(a, b)
        plain.append(frechet_distance(x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T)))
    standard_error = np.std(values, ddof=1) / 10
    assert abs(np.mean(values)) < 3 * standard_error
    assert np.mean(plain) > 10 * np.std(plain, ddof=1) / 10


def test_too_few_rows_for_a_distance_is_a_clear_error():
    tiny = np.ones((3, 2))
    for function in (fpd, kpd):
        with pytest.raises(ValueError, match="at least 4 rows"):
            function(tiny, tiny)
