"""Skilling's evidence and the problems' exact evidences, checked without the sampler."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from physgen.nested.evidence import evidence
from physgen.nested.problems import get_problem, rosenbrock_log_z, shells_log_z


def test_evidence_of_exact_nested_sampling_has_unit_pulls():
    """Nested sampling of L(X) = exp(-X^2 / (2 s^2)) on X in [0, 1] done exactly: each step
    shrinks X by t ~ Beta(n, 1). Over 60 runs the pulls (log Z - exact) / error have mean ~0
    and width ~1."""
    n, s = 100, 0.05
    exact = math.log(s * math.sqrt(math.pi / 2) * math.erf(1 / (s * math.sqrt(2))))
    rng = np.random.default_rng(0)
    pulls = []
    for _ in range(60):
        log_x = np.cumsum(np.log(rng.beta(n, 1, size=2500)))
        dead = -np.exp(2 * log_x) / (2 * s**2)
        live_x = np.exp(log_x[-1]) * rng.random(n)
        found = evidence(dead, np.sort(-(live_x**2) / (2 * s**2)), n)
        pulls.append((found.log_z - exact) / found.log_z_err)
    assert abs(np.mean(pulls)) < 0.4 and 0.6 < np.std(pulls) < 1.5
    assert np.isclose(np.exp(found.log_weights).sum(), 1.0)


def test_shells_reproduce_the_published_table():
    published = {2: -1.75, 5: -5.67, 10: -14.59, 20: -36.09, 30: -60.13}
    for dim, value in published.items():
        assert shells_log_z(dim) == pytest.approx(value, abs=0.006)


def test_rosenbrock_and_gaussian_against_brute_force_quadrature():
    value, _ = integrate.dblquad(
        lambda y, x: math.exp(-((1 - x) ** 2) - 100 * (y - x * x) ** 2) / 100,
        -5,
        5,
        -5,
        5,
        epsabs=1e-12,
    )
    assert rosenbrock_log_z() == pytest.approx(math.log(value), abs=1e-6)
    problem = get_problem("gaussian", 3)
    one = stats.norm.cdf(5) - stats.norm.cdf(-5)
    assert problem.log_z_exact == pytest.approx(3 * math.log(one / 10), abs=1e-12)
