import numpy as np
import pytest

from physgen.metrics.classifier import (
    QUICK,
    ClassifierConfig,
    auc_standard_error,
    classifier_two_sample_test,
)

SMALL = ClassifierConfig(hidden=(64, 64), max_epochs=6, patience=3, batch_size=256)


def test_same_distribution_gives_auc_one_half_within_error():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3000, 8)).astype(np.float32)
    b = rng.normal(size=(3000, 8)).astype(np.float32)
    result = classifier_two_sample_test(a, b, SMALL, progress=False)
    assert abs(result["auc"] - 0.5) < 3 * result["auc_err"] + 0.01
    assert result["n_train"] == 3600 and result["n_validation"] == 1200


def test_disjoint_distributions_give_auc_one():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(2000, 8)).astype(np.float32)
    b = (rng.normal(size=(2000, 8)) + 4).astype(np.float32)
    result = classifier_two_sample_test(a, b, SMALL, progress=False)
    assert result["auc"] > 0.99 and result["jsd"] > 0.9


def test_transform_and_bfloat16_storage():
    import torch

    rng = np.random.default_rng(2)
    a = torch.from_numpy(rng.normal(size=(2000, 4)).astype(np.float32)).to(torch.bfloat16)
    b = torch.from_numpy((rng.normal(size=(2000, 4)) + 1).astype(np.float32)).to(torch.bfloat16)
    # the transform drops the only informative direction: the test must see nothing
    blind = classifier_two_sample_test(a, b, SMALL, transform=lambda x: x * 0, progress=False)
    assert blind["auc"] == pytest.approx(0.5, abs=0.05)
    seeing = classifier_two_sample_test(a, b, SMALL, progress=False)
    assert seeing["auc"] > 0.85


def test_auc_standard_error():
    # for AUC 0.5 and n = m: variance = (1/4 + 2 (n - 1) / 12) / n^2 ~ 1 / (6 n)
    assert auc_standard_error(0.5, 6000, 6000) == pytest.approx(np.sqrt(1 / 36000), rel=1e-3)
    assert auc_standard_error(1.0, 100, 100) == 0.0


def _sparse_showers_like(rng, n, scale):
    """Voxel-like inputs: small values (E / E_inc ~ 1e-3), 70% zeros; ``scale`` multiplies
    the first 50 of 500 columns."""
    x = rng.exponential(1e-3, size=(n, 500)) * (rng.random((n, 500)) < 0.3)
    x[:, :50] *= scale
    return x.astype(np.float32)


def test_quick_classifier_trains_on_a_few_thousand_small_valued_samples():
    # 2500 + 2500 samples are 12 batches an epoch: without a minimum number of steps the
    # quick recipe stopped at chance (AUC 0.49 here with 10 epochs of batch 1000)
    rng = np.random.default_rng(3)
    a, b = _sparse_showers_like(rng, 2500, 1.0), _sparse_showers_like(rng, 2500, 1.5)
    result = classifier_two_sample_test(a, b, QUICK, progress=False)
    assert result["epochs_run"] * np.ceil(result["n_train"] / QUICK.batch_size) >= QUICK.min_steps
    assert result["auc"] > 0.5 + 8 * result["auc_err"]
    same = classifier_two_sample_test(
        a, _sparse_showers_like(rng, 2500, 1.0), QUICK, progress=False
    )
    assert abs(same["auc"] - 0.5) < 3 * same["auc_err"] + 0.01


def _standardized_training_inputs(a, b):
    from physgen.metrics.classifier import _Samples

    samples = _Samples(a, b, lambda x: x, "cpu")
    class_of = np.r_[np.zeros(len(a), int), np.ones(len(b), int)]
    rows = np.r_[np.arange(len(a)), np.arange(len(b))]
    samples.fit_standardization(class_of, rows, batch_size=100)
    return samples.batch(class_of, rows).double().numpy(), class_of


def test_narrow_inputs_are_whitened_with_both_classes():
    """Two inputs 99.95% correlated (E_tot and E_inc): whitened they are uncorrelated with unit
    variance, so that their small difference is an input of unit scale."""
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1000, 1)) * 50 + 300
    a = np.c_[base[:500], base[:500] + rng.normal(size=(500, 1))].astype(np.float32)
    b = np.c_[base[500:], base[500:] + 1.5 + rng.normal(size=(500, 1))].astype(np.float32)
    inputs, _ = _standardized_training_inputs(a, b)
    assert np.allclose(inputs.mean(0), 0, atol=1e-4)
    assert np.allclose(np.cov(inputs.T, bias=True), np.eye(2), atol=1e-3)


def test_wide_inputs_are_scaled_by_the_reference():
    """Over 1024 inputs each is scaled by the reference's mean and width and compressed by
    asinh: the reference comes out standard before the asinh, a generator 1e30 too large far
    outside (finite)."""
    rng = np.random.default_rng(3)
    a = rng.gamma(2.0, size=(300, 1100)).astype(np.float32)
    b = (rng.gamma(2.0, size=(300, 1100)) * 1e30).astype(np.float32)
    inputs, class_of = _standardized_training_inputs(a, b)
    reference = np.sinh(inputs[class_of == 0])
    assert np.allclose(reference.mean(0), 0, atol=1e-4)
    assert np.allclose(reference.std(0), 1, atol=1e-3)
    assert np.isfinite(inputs).all() and np.median(inputs[class_of == 1]) > np.arcsinh(1e5)


def test_repeats_use_other_seeds_and_report_their_spread():
    from physgen.metrics.classifier import repeated_two_sample_test

    rng = np.random.default_rng(5)
    a = rng.normal(size=(600, 4)).astype(np.float32)
    b = (rng.normal(size=(600, 4)) + 0.3).astype(np.float32)
    result = repeated_two_sample_test(a, b, SMALL, 3, progress=False)
    first = classifier_two_sample_test(a, b, SMALL, progress=False)
    assert result["auc"] == first["auc"] and len(set(result["repeats"])) == 3
    assert result["auc_mean"] == pytest.approx(np.mean(result["repeats"]))
    assert result["auc_spread"] == pytest.approx(np.std(result["repeats"], ddof=1))


def test_a_network_that_never_learns_is_flagged():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(500, 4)), rng.normal(size=(500, 4))
    frozen = ClassifierConfig(hidden=(8,), learning_rate=1e-9, max_epochs=6, batch_size=256)
    result = classifier_two_sample_test(
        a.astype(np.float32), b.astype(np.float32), frozen, progress=False
    )
    assert result["stayed_at_chance"] and result["did_not_learn"]
    learning = classifier_two_sample_test(
        a.astype(np.float32),
        b.astype(np.float32),
        ClassifierConfig(hidden=(256,), max_epochs=60, learning_rate=1e-2, batch_size=64),
        progress=False,
    )
    assert learning["stayed_at_chance"] and not learning["did_not_learn"]  # it overfits


def test_an_unknown_selection_rule_is_refused():
    with pytest.raises(ValueError, match="select_on"):
        ClassifierConfig(select_on="auc")
