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
