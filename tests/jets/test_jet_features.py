"""Jet kinematics, the emulation features and the parametric detector: exact identities."""

import numpy as np
import pytest

from physgen.jets.detector import DetectorParameters, smear_jets
from physgen.jets.features import input_features, jets_from_targets, target_features
from physgen.jets.kinematics import delta_r, pt_eta_phi_m, wrap_phi


def random_jets(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack(
        [
            rng.uniform(20, 500, n),
            rng.uniform(-2.5, 2.5, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(0, 60, n),
        ],
        1,
    ).astype(np.float32)


def test_wrap_phi_and_delta_r_across_the_branch_cut():
    assert wrap_phi(np.pi + 0.1) == pytest.approx(-np.pi + 0.1)
    assert delta_r(0.0, 3.1, 0.0, -3.1) == pytest.approx(2 * np.pi - 6.2)


def test_pt_eta_phi_m_of_a_known_four_vector():
    pt, eta, phi, mass = pt_eta_phi_m(3.0, 4.0, 0.0, 13.0)
    assert (pt, eta, phi) == (5.0, 0.0, pytest.approx(np.arctan2(4, 3)))
    assert mass == pytest.approx(12.0)


def test_targets_invert_exactly():
    parton, jets = random_jets(1000, 0), random_jets(1000, 1)
    back = jets_from_targets(parton, target_features(parton, jets))
    np.testing.assert_allclose(back[:, [0, 1, 3]], jets[:, [0, 1, 3]], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(wrap_phi(back[:, 2] - jets[:, 2]), 0, atol=1e-5)
    assert np.isfinite(input_features(parton)).all()


def test_detector_resolution_matches_its_formula():
    n, pt = 200_000, 100.0
    jets = np.tile(np.array([[pt, 0.0, 0.0, 10.0]], np.float32), (n, 1))
    smeared = smear_jets(jets, np.random.default_rng(0))
    p = DetectorParameters
    expected = np.sqrt((p.noise_gev / pt) ** 2 + p.stochastic**2 / pt + p.constant**2)
    response = smeared[:, 0] / pt
    assert response.mean() == pytest.approx(p.scale, abs=5e-4)
    assert response.std() / p.scale == pytest.approx(expected, rel=0.01)
