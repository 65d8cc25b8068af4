"""The generative proposals: the density they report is the density of their draws, and each
one, inside the sampler, finds a known evidence."""

import math

import numpy as np
import pytest
import torch

from physgen.core.training import TrainingConfig
from physgen.nested.fm_proposal import FlowMatchingProposal, FlowMatchingProposalConfig
from physgen.nested.problems import get_problem
from physgen.nested.proposal import FlowProposal, FlowProposalConfig
from physgen.nested.sampler import NestedConfig, NestedSampler


def _trained(model_class, config_class, epochs):
    points = torch.rand(600, 2, generator=torch.Generator().manual_seed(0))
    training = TrainingConfig(epochs=epochs, batch_size=128, learning_rate=3e-3, patience=None)
    model = model_class.from_config(config_class(dim=2, training=training))
    model.fit(points)
    return model


@pytest.mark.parametrize(
    "model_class, config_class, epochs",
    [
        (FlowProposal, FlowProposalConfig, 30),
        (FlowMatchingProposal, FlowMatchingProposalConfig, 60),
    ],
)
def test_reported_density_is_the_density_of_the_draws(model_class, config_class, epochs):
    """With the latent ball unbounded the draws cover the whole cube, so E_q[1 / q] over the
    draws is the cube's volume, 1, whatever the model learned - but only if log q is the
    density of the draws (a wrong Jacobian or sign breaks it)."""
    model = _trained(model_class, config_class, epochs)
    model.radius.fill_(math.inf)
    u, log_q = model.draw(20000, torch.Generator().manual_seed(1))
    inverse = torch.exp(-log_q.double())
    mean, error = float(inverse.mean()), float(inverse.std() / math.sqrt(len(inverse)))
    assert abs(mean - 1.0) < 4 * error + 1e-3, (mean, error)
    assert error < 0.05  # the test has power: the learned q is not far from flat
    # the density of given points agrees with that of the draws (flow: exactly; flow
    # matching: up to the solver's error of the backward integration)
    tolerance = 1e-4 if model_class is FlowProposal else 0.05
    again = model.log_prob(u[:500].float()).double()
    assert torch.allclose(again, log_q[:500].double(), atol=tolerance, rtol=0)


@pytest.mark.slow
def test_flow_matching_proposal_finds_the_lsbi_evidence():
    problem = get_problem("lsbi", 2)
    config = NestedConfig(n_live=150, proposal="flow-matching", seed=4)
    result = NestedSampler(problem, config, progress=False).run()
    assert result.converged and result.retrainings >= 1
    assert abs(result.log_z - problem.log_z_exact) < 3 * result.log_z_err


def test_lsbi_problem_against_an_independent_closed_form():
    """lsbi's evidence and likelihood against the Gaussian-mixture formulas written out here."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from physgen.nested.problems import LSBI_COMPONENTS, LSBI_NOISE, lsbi_model

    dim = 3
    model, data = lsbi_model(dim)
    problem = get_problem("lsbi", dim)
    k, noise = LSBI_COMPONENTS, LSBI_NOISE**2 * np.eye(dim)
    matrices, means = np.asarray(model.M), np.asarray(model.m)
    log_z = logsumexp(
        [
            multivariate_normal(means[a], noise + matrices[a] @ matrices[a].T).logpdf(data)
            for a in range(k)
        ]
    ) - math.log(k)
    assert problem.log_z_exact == pytest.approx(log_z, abs=1e-9)
    u = np.random.default_rng(0).random((50, dim))
    theta = problem.prior_transform(u)
    expected = logsumexp(
        [
            multivariate_normal(means[a], noise).logpdf(data - theta @ matrices[a].T)
            for a in range(k)
        ],
        axis=0,
    ) - math.log(k)
    np.testing.assert_allclose(problem.log_likelihood(theta), expected, atol=1e-9)
    assert np.isfinite(problem.prior_transform(np.array([[0.0, 1.0, 0.5]]))).all()
