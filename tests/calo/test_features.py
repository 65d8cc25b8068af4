import numpy as np
import pytest

from physgen.calo.features import compute_features, eta_phi_layers, features_from_chunks
from physgen.calo.geometry import get_geometry


@pytest.mark.parametrize("name", ["ds1-photons", "ds1-pions", "ds2", "ds3"])
def test_single_deposit_sits_at_its_bin_centre(name):
    geometry = get_geometry(name)
    rng = np.random.default_rng(1)
    voxels = rng.choice(geometry.n_voxels, size=5, replace=False)
    showers = np.zeros((5, geometry.n_voxels), np.float32)
    showers[np.arange(5), voxels] = 100.0
    features = compute_features(geometry, np.full(5, 1e3), showers)
    layer, _, _ = geometry.voxel_to_bins(voxels)
    rows = np.arange(5)
    assert np.allclose(features.ec_eta[rows, layer], geometry.eta_centers_mm[voxels], atol=1e-4)
    assert np.allclose(features.ec_phi[rows, layer], geometry.phi_centers_mm[voxels], atol=1e-4)
    assert np.allclose(features.ec_r[rows, layer], geometry.r_centers_mm[voxels], atol=1e-4)
    for width in (features.width_eta, features.width_phi, features.width_r):
        assert np.allclose(width, 0, atol=1e-4)  # mm: float rounding of <r^2> - <r>^2
    assert np.allclose(features.e_tot, 100.0)
    expected_sparsity = np.ones((5, geometry.n_layers))
    per_layer = np.array([lay.n_voxels for lay in geometry.active_layers])
    expected_sparsity[rows, layer] = 1 - 1 / per_layer[layer]
    assert np.allclose(features.sparsity, expected_sparsity)


def test_symmetric_deposits_give_centre_zero_and_known_width():
    geometry = get_geometry("ds2")
    shower = np.zeros((1, geometry.n_voxels), np.float32)
    # the same energy in opposite alpha bins of one ring: centre on the axis
    a = geometry.bins_to_voxel(4, 0, 3)
    b = geometry.bins_to_voxel(4, 8, 3)  # alpha + pi
    shower[0, [a, b]] = 50.0
    features = compute_features(geometry, [1e3], shower)
    assert abs(features.ec_eta[0, 4]) < 1e-5 and abs(features.ec_phi[0, 4]) < 1e-5
    # both deposits sit at radius r: the width in eta is |r cos(alpha)|, in r it is 0
    assert features.ec_r[0, 4] == pytest.approx(geometry.r_centers_mm[a], rel=1e-6)
    assert features.width_r[0, 4] == 0
    assert features.width_eta[0, 4] == pytest.approx(abs(geometry.eta_centers_mm[a]), rel=1e-5)


def test_totals_add_up_and_threshold_applies():
    geometry = get_geometry("ds2")
    rng = np.random.default_rng(2)
    showers = rng.exponential(0.5, (20, geometry.n_voxels)).astype(np.float32)
    showers[showers < 0.01] = 0
    features = compute_features(geometry, np.full(20, 5e4), showers)
    kept = np.where(showers >= geometry.threshold_mev, showers, 0)
    assert np.allclose(features.e_tot, kept.sum(1), rtol=1e-5)
    assert np.allclose(features.e_layer.sum(1), features.e_tot, rtol=1e-5)
    assert np.allclose(features.e_layer, kept.reshape(20, 45, 144).sum(2), rtol=1e-5)
    below = np.full((1, geometry.n_voxels), geometry.threshold_mev * 0.99, np.float32)
    assert compute_features(geometry, [1e3], below).e_tot[0] == 0


def test_chunked_equals_whole_and_float32():
    geometry = get_geometry("ds1-pions")
    rng = np.random.default_rng(3)
    showers = rng.exponential(20, (31, geometry.n_voxels)) * (rng.random((31, 533)) < 0.2)
    energies = rng.uniform(1e3, 1e5, 31)
    whole = compute_features(geometry, energies, showers)
    chunks = [(energies[i : i + 8], showers[i : i + 8]) for i in range(0, 31, 8)]
    streamed = features_from_chunks(geometry, chunks)
    for key, value in whole.as_dict().items():
        assert value.dtype == np.float32
        assert np.array_equal(value, getattr(streamed, key)), key


def test_empty_layer_has_zero_centre_and_width():
    geometry = get_geometry("ds2")
    features = compute_features(geometry, [1e3], np.zeros((1, geometry.n_voxels)))
    assert np.all(features.ec_eta == 0) and np.all(features.width_r == 0)
    assert np.all(features.sparsity == 1)


def test_eta_phi_only_for_layers_with_alpha_bins():
    assert eta_phi_layers(get_geometry("ds1-photons")).tolist() == [False, True, True, False, False]
    assert eta_phi_layers(get_geometry("ds2")).all()
