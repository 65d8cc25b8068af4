import json

import numpy as np
import pytest

from physgen.calo.evaluate import EvaluationConfig, evaluate
from physgen.calo.io import write_showers
from physgen.core.errors import PhysgenInputError
from physgen.metrics.classifier import ClassifierConfig

SMALL = ClassifierConfig(
    hidden=(64, 64), learning_rate=1e-3, max_epochs=15, patience=3, batch_size=256
)
FAST = EvaluationConfig(classifier=SMALL, report=False)


def photon_showers(n, seed, scale=1.0, occupancy=0.4):
    """ds1-photons-shaped showers (368 voxels) with a smooth random energy sharing."""
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n)).astype(np.float32)
    weights = rng.gamma(0.7, 1.0, (n, 368)) * (rng.random((n, 368)) < occupancy)
    showers = weights / weights.sum(1, keepdims=True) * energies[:, None] * 0.9 * scale
    return energies, showers.astype(np.float32)


def evaluate_histograms(gen, ref, out, log=lambda message: None):
    return evaluate(
        gen, ref, out, EvaluationConfig(metrics=("hist",), report=False), progress=False, log=log
    )


@pytest.fixture
def files(tmp_path):
    def make(name, n=1500, seed=0, scale=1.0, edit=None, occupancy=0.4):
        energies, showers = photon_showers(n, seed, scale, occupancy)
        if edit is not None:
            edit(energies, showers)
        path = tmp_path / name
        write_showers(path, energies, showers)
        return path

    return make


def test_identical_files(files, tmp_path):
    ref = files("ref.h5")
    result = evaluate(ref, ref, tmp_path / "out", FAST, progress=False, log=lambda m: None)
    assert all(value == 0 for value in result["separation_power"].values())
    for suffix in ("low", "low_normed", "high"):
        assert abs(result[f"auc_{suffix}"] - 0.5) < 3 * result[f"auc_{suffix}_err"] + 0.02
    stored = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for key in ("auc_low", "auc_low_normed", "auc_high", "jsd_low", "fpd", "kpd"):
        assert isinstance(stored[key], float)
    assert isinstance(stored["separation_power"], dict)


def test_disjoint_distributions(files, tmp_path):
    ref, gen = files("ref.h5"), files("gen.h5", seed=1, scale=3.0, occupancy=0.9)
    result = evaluate(gen, ref, tmp_path / "out", FAST, progress=False, log=lambda m: None)
    assert result["auc_low"] > 0.99 and result["auc_high"] > 0.99
    assert result["separation_etot_over_einc"] > 0.9


def test_a_known_shift_shows_only_where_it_should(files, tmp_path):
    last_layer = slice(363, 368)  # ds1 photons: layer 12 holds the last 5 voxels

    def no_voxel_near_threshold(energies, showers):  # doubling then crosses no threshold
        showers[showers < 1.0] = 0

    def double_last_layer(energies, showers):
        no_voxel_near_threshold(energies, showers)
        showers[:, last_layer] *= 2

    ref = files("ref.h5", edit=no_voxel_near_threshold)
    gen = files("gen.h5", edit=double_last_layer)
    config = EvaluationConfig(metrics=("hist",), report=False)
    powers = evaluate(gen, ref, tmp_path / "out", config, progress=False, log=lambda m: None)[
        "separation_power"
    ]
    assert powers["e_layer_12"] > 0.02 and powers["etot_over_einc"] > 0
    changed = {"e_layer_12", "voxel_energy"}  # and E_tot/E_inc, overall and per energy
    # energy-weighted centres, widths and sparsity do not depend on a layer's energy scale
    unchanged = [n for n in powers if n not in changed and not n.startswith("etot_over_einc")]
    assert all(powers[name] < 1e-12 for name in unchanged)


def test_html_report_and_average_images(files, tmp_path):
    ref, gen = files("ref.h5"), files("gen.h5", seed=1)
    config = EvaluationConfig(metrics=("hist", "fpd"), report=True)
    evaluate(gen, ref, tmp_path / "out", config, progress=False, log=lambda m: None)
    page = (tmp_path / "out" / "report.html").read_text()
    assert page.startswith("<!doctype html>") and page.count("data:image/png;base64,") >= 8
    assert "E_tot/E_inc" in page and "src='http" not in page


def test_nan_in_generated_is_a_generator_failure(files, tmp_path):
    ref = files("ref.h5")

    def poison(energies, showers):
        showers[[3, 10, 11], 5] = np.nan
        showers[20, 0] = -1

    gen = files("gen.h5", seed=1, edit=poison)
    messages = []
    result = evaluate_histograms(gen, ref, tmp_path / "out", messages.append)
    assert result["n_generated_invalid"] == 4 and result["generator_failure"]
    assert any("generator failure" in m for m in messages)
    assert np.isfinite(result["separation_mean_official"])


def test_different_lengths_are_subsampled(files, tmp_path):
    ref, gen = files("ref.h5", n=1200), files("gen.h5", n=900, seed=1)
    messages = []
    result = evaluate_histograms(gen, ref, tmp_path / "out", messages.append)
    assert result["n_reference"] == 900
    assert any("subsampled" in m for m in messages)


def test_mismatched_energy_range_warns(files, tmp_path):
    ref = files("ref.h5")

    def higher(energies, showers):
        energies *= 10
        showers *= 10

    gen = files("gen.h5", seed=1, edit=higher)
    result = evaluate(
        gen,
        ref,
        tmp_path / "out",
        EvaluationConfig(metrics=("hist",), report=False),
        progress=False,
        log=lambda m: None,
    )
    assert any("incident energies differ" in w for w in result["warnings"])


def test_mismatched_geometry_is_an_error(files, tmp_path):
    ref = files("ref.h5")
    other = tmp_path / "ds2.h5"
    write_showers(other, np.ones(3, np.float32), np.ones((3, 6480), np.float32))
    with pytest.raises(PhysgenInputError, match="mismatched geometries"):
        evaluate(other, ref, tmp_path / "out", FAST, progress=False, log=lambda m: None)


def test_reference_cache_is_keyed_by_content(files, tmp_path):
    ref = files("ref.h5")
    gen = files("gen.h5", seed=1)
    config = EvaluationConfig(metrics=("hist",), report=False)
    messages = []
    first = evaluate(gen, ref, tmp_path / "a", config, progress=False, log=messages.append)
    second = evaluate(gen, ref, tmp_path / "b", config, progress=False, log=messages.append)
    assert any("from cache" in m for m in messages)
    assert second["separation_power"] == first["separation_power"]
    # same name, other content: the cache must not serve the old features
    files("ref.h5", seed=2)
    messages.clear()
    third = evaluate(gen, ref, tmp_path / "c", config, progress=False, log=messages.append)
    assert not any("from cache" in m for m in messages)
    assert third["separation_power"] != first["separation_power"]
