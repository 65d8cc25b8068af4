"""The simulators behind ``physgen emulate``: summaries against hand-computed values, the
parallel path of the cache against the serial one, and Pythia's physics where it is installed."""

import numpy as np
import pytest

from physgen.calo.simulate import SimulationConfig, gun_position_mm, incidence_direction
from physgen.core.errors import PhysgenInputError
from physgen.emulate.analytic import LinearGaussian
from physgen.emulate.geant4_response import response_summaries
from physgen.emulate.simulator import SimulationCache
from physgen.emulate.simulators import get_simulator, parse_options


def test_response_summaries_of_hand_built_showers():
    # 4 showers, 3 layers x 2 voxels; energies 10 and 20 MeV
    energies = np.array([10.0, 10.0, 20.0, 20.0])
    layers = np.array([[4.0, 4.0, 0.0], [2.0, 4.0, 2.0], [0.0, 9.0, 9.0], [8.0, 8.0, 0.0]])
    showers = np.repeat(layers / 2, 2, axis=1)  # each layer's energy split over its 2 voxels
    summary, covariance = response_summaries(energies, showers, n_layers=3, seed=0)
    response = np.array([0.8, 0.8, 0.9, 0.8])
    depth = np.array([4 / 8, 8 / 8, 27 / 18, 8 / 16])
    expected = [response.mean(), response.std(ddof=1) / response.mean(), depth.mean()]
    np.testing.assert_allclose(summary, expected, rtol=1e-12)
    # the bootstrap variance of a mean is the sample variance / n (within bootstrap noise)
    assert covariance[0, 0] == pytest.approx(response.var() / 4, rel=0.25)
    assert covariance[2, 2] == pytest.approx(depth.var() / 4, rel=0.25)


@pytest.mark.parametrize("angle", [0.0, 10.0, 30.0, 60.0])
def test_tilted_gun_enters_the_calorimeter_at_the_readout_centre(angle):
    radius = 80.0
    start, direction = (
        np.array(gun_position_mm(angle, radius)),
        np.array(incidence_direction(angle)),
    )
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert np.degrees(np.arccos(direction[0])) == pytest.approx(angle)
    # the ray reaches x = R after a path of R exactly, at y = z = 0
    np.testing.assert_allclose(start + radius * direction, [radius, 0.0, 0.0], atol=1e-9)
    assert np.linalg.norm(start[:2]) < radius  # it starts inside the barrel's vacuum


def test_angle_outside_zero_to_ninety_is_refused():
    with pytest.raises(PhysgenInputError, match="--angle 90"):
        SimulationConfig(angle_deg=90.0).validate()


def test_simulator_options_are_typed_and_checked():
    simulator = get_simulator("linear-gaussian", parse_options(["dim=3", "noise=0.1"]))
    assert simulator.settings.dim == 3 and simulator.settings.noise == 0.1
    assert simulator.summary_names == tuple(f"y{i}" for i in range(1, 7))
    with pytest.raises(PhysgenInputError, match="KEY=VALUE"):
        parse_options(["dim"])
    with pytest.raises(PhysgenInputError, match="unknown simulator"):
        get_simulator("herwig-tune")
    with pytest.raises(PhysgenInputError, match="outside the bounds"):
        simulator.check_points([[0.0, 2.0, 0.0]])


def test_parallel_cache_gives_the_serial_answers(tmp_path):
    pytest.importorskip("distributed")
    simulator = LinearGaussian()
    points = np.random.default_rng(1).uniform(-1, 1, size=(6, 2))
    serial = SimulationCache(tmp_path / "serial", simulator)
    parallel = SimulationCache(tmp_path / "parallel", simulator)
    one = serial.simulate(points)
    two = parallel.simulate(points, jobs=2)
    assert serial.calls == parallel.calls == 6
    for a, b in zip(one[:2], two[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    parallel.simulate(points[::-1], jobs=2)
    assert parallel.calls == 6  # all cached: no new call


def test_pythia_tune_follows_the_physics_of_its_parameters():
    pytest.importorskip("pythia8mc")
    simulator = get_simulator("pythia-tune", {"events": 400})
    names = simulator.summary_names
    low_alpha, _ = simulator.run(np.array([0.68, 0.98, 0.12]), seed=11)
    high_alpha, _ = simulator.run(np.array([0.68, 0.98, 0.15]), seed=12)
    monash, covariance = simulator.run(np.array([0.68, 0.98, 0.1365]), seed=13)
    n_ch, thrust, n_ch_bins = names.index("n_ch"), names.index("1-T"), slice(1, 5)
    # LEP1 charged multiplicity is about 21 (with K0S and Lambda decayed: Pythia's defaults)
    assert 18 < monash[n_ch] < 24
    assert np.all((monash[n_ch_bins] >= 0) & (monash[n_ch_bins] <= 1))
    assert monash[n_ch_bins].sum() < 1  # the last bin is left out
    assert np.all(np.diag(covariance) >= 0) and covariance[n_ch, n_ch] > 0
    # more radiation with a larger alpha_s: more particles, less pencil-like events
    error = np.sqrt(2 * covariance[n_ch, n_ch])
    assert high_alpha[n_ch] - low_alpha[n_ch] > 3 * error
    assert high_alpha[thrust] > low_alpha[thrust]
