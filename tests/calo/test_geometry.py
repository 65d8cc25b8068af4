import numpy as np
import pytest

from physgen.calo.geometry import (
    GEOMETRY_NAMES,
    geometry_from_voxel_count,
    get_geometry,
    read_binning_xml,
    write_binning_xml,
)
from physgen.core.errors import PhysgenInputError

OFFICIAL_XML = {
    "ds1-photons": "binning_dataset_1_photons.xml",
    "ds1-pions": "binning_dataset_1_pions.xml",
    "ds2": "binning_dataset_2.xml",
    "ds3": "binning_dataset_3.xml",
}
VOXELS = {"ds1-photons": 368, "ds1-pions": 533, "ds2": 6480, "ds3": 40500}


@pytest.mark.parametrize("name", GEOMETRY_NAMES)
def test_builtin_equals_official_xml(name, shared_dir):
    official = read_binning_xml(shared_dir / "calochallenge" / "binning" / OFFICIAL_XML[name])
    builtin = get_geometry(name)
    assert official.layers == builtin.layers
    assert official.pid == builtin.pid
    assert official.particle == builtin.particle


@pytest.mark.parametrize("name", GEOMETRY_NAMES)
def test_voxel_count_and_detection(name):
    geometry = get_geometry(name)
    assert geometry.n_voxels == VOXELS[name]
    assert geometry_from_voxel_count(VOXELS[name]).name == name


def test_unknown_voxel_count_is_a_clear_error():
    with pytest.raises(PhysgenInputError, match="no built-in geometry has 100 voxels"):
        geometry_from_voxel_count(100)


@pytest.mark.parametrize("name", GEOMETRY_NAMES)
def test_xml_round_trip(name, tmp_path):
    geometry = get_geometry(name)
    path = tmp_path / "binning.xml"
    write_binning_xml(geometry, path)
    again = read_binning_xml(path)
    assert again.layers == geometry.layers
    assert again.n_voxels == geometry.n_voxels
    assert again.threshold_mev == geometry.threshold_mev


@pytest.mark.parametrize("name", GEOMETRY_NAMES)
def test_index_mapping_round_trip(name):
    geometry = get_geometry(name)
    voxels = np.arange(geometry.n_voxels)
    layer, alpha, r = geometry.voxel_to_bins(voxels)
    assert np.array_equal(geometry.bins_to_voxel(layer, alpha, r), voxels)
    # radial bin runs fastest inside a layer
    assert r[1] == 1 and alpha[1] == 0


def test_ds2_layout_matches_reshape_convention():
    geometry = get_geometry("ds2")
    voxel = geometry.bins_to_voxel(3, 5, 7)
    assert voxel == 3 * 144 + 5 * 9 + 7
    flat = np.zeros(6480)
    flat[voxel] = 1
    assert flat.reshape(45, 16, 9)[3, 5, 7] == 1


def test_out_of_range_index_raises():
    geometry = get_geometry("ds2")
    with pytest.raises(IndexError):
        geometry.voxel_to_bins(6480)
    with pytest.raises(IndexError):
        geometry.bins_to_voxel(0, 16, 0)


def test_bin_centres_ds2():
    geometry = get_geometry("ds2")
    voxel = geometry.bins_to_voxel(0, 0, 0)
    assert geometry.r_centers_mm[voxel] == pytest.approx(2.325)
    assert geometry.alpha_centers[voxel] == pytest.approx(-np.pi + np.pi / 16)
    alpha = geometry.alpha_centers[voxel]
    assert geometry.eta_centers_mm[voxel] == pytest.approx(2.325 * np.cos(alpha))
    assert geometry.phi_centers_mm[voxel] == pytest.approx(2.325 * np.sin(alpha))
    # alpha centres are symmetric around zero: the mean position of a ring is the axis
    ring = np.isclose(geometry.r_centers_mm[:144], 2.325)
    assert ring.sum() == 16
    assert abs(geometry.eta_centers_mm[:144][ring].sum()) < 1e-9


def test_unbinned_layers_of_ds1_have_alpha_zero():
    geometry = get_geometry("ds1-photons")
    first_layer = geometry.layer_slices[0]
    assert np.all(geometry.alpha_centers[first_layer] == 0)
    assert [layer.layer_id for layer in geometry.active_layers] == [0, 1, 2, 3, 12]


def test_unknown_geometry_name():
    with pytest.raises(PhysgenInputError, match="unknown geometry"):
        get_geometry("ds9")
