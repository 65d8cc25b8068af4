import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("xgboost") is None:
    pytest.skip("the trees extra is not installed", allow_module_level=True)

from physgen.models.trees import TreeConfig, TreeFlowMatching  # noqa: E402


def conditional_gaussian(n, seed):
    """y | c ~ N((2c, -c), diag(0.3^2, 0.6^2)), c uniform in [-1, 1]."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(-1, 1, (n, 1))
    y = np.concatenate([2 * c, -c], 1) + rng.normal(size=(n, 2)) * [0.3, 0.6]
    return y.astype(np.float32), c.astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    y, c = conditional_gaussian(2000, 0)
    config = TreeConfig(
        steps=25, duplicates=10, midpoint=True, n_estimators=40, max_depth=4, n_jobs=1
    )
    return TreeFlowMatching(config).fit(y, c)


@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_trees_learn_a_conditional_gaussian(fitted, method):
    for condition in (-0.5, 0.5):
        c = np.full((4000, 1), condition, np.float32)
        samples = fitted.sample(c, method=method, seed=1)
        assert np.allclose(samples.mean(0), [2 * condition, -condition], atol=0.1)
        assert np.allclose(samples.std(0), [0.3, 0.6], rtol=0.25)


def test_save_load_and_determinism(fitted, tmp_path):
    again = TreeFlowMatching.from_bytes(fitted.to_bytes())
    c = np.zeros((50, 1), np.float32)
    assert np.array_equal(fitted.sample(c, seed=3), again.sample(c, seed=3))
    assert not np.array_equal(fitted.sample(c, seed=3), fitted.sample(c, seed=4))
