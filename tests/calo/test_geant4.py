"""Physics validation of the Geant4 reference simulator (small, low-energy samples)."""

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("geant4_pybind") is None:
    pytest.skip("the geant4 extra is not installed", allow_module_level=True)

from physgen.calo.features import compute_features  # noqa: E402
from physgen.calo.geant4.validation import par04_showers, tungsten_block_containment  # noqa: E402
from physgen.calo.geometry import get_geometry  # noqa: E402
from physgen.calo.io import read_showers  # noqa: E402
from physgen.calo.simulate import SimulationConfig, incident_energies_mev, simulate  # noqa: E402
from physgen.core.errors import PhysgenInputError  # noqa: E402

DS2 = get_geometry("ds2")


def test_energy_is_conserved_in_a_thick_tungsten_block():
    fraction = tungsten_block_containment(energy_gev=1.0, n_events=20)
    assert 0.99 <= fraction <= 1.0 + 1e-9


def test_mean_response_of_10_gev_electrons():
    showers, _ = par04_showers([10.0] * 20, seed=3)
    response = showers.sum(1) / 1e4
    assert 0.90 <= response.mean() <= 1.03
    # sampling calorimeter: a stochastic resolution of order 10-20 %/sqrt(E) at 10 GeV
    assert 0.01 < response.std() < 0.12


def shower_max_layer(showers):
    profile = showers.reshape(len(showers), 45, -1).sum(2).mean(0)
    peak = int(np.argmax(profile))
    left, centre, right = profile[max(peak - 1, 0)], profile[peak], profile[min(peak + 1, 44)]
    curvature = left - 2 * centre + right
    return peak + (0.5 * (left - right) / curvature if curvature < 0 else 0.0)


@pytest.mark.slow
def test_shower_maximum_moves_deeper_with_log_energy():
    depths = [
        shower_max_layer(par04_showers([e] * n, seed=5)[0])
        for e, n in ((1.0, 30), (10.0, 12), (50.0, 4))
    ]
    assert depths[0] < depths[1] < depths[2]
    # about 0.8 X0 per readout layer: ln(10) X0 ~ 2-4 layers per decade of energy
    assert 1.5 < depths[1] - depths[0] < 5.0


def test_lateral_containment_of_the_readout():
    showers, dropped = par04_showers([10.0] * 10, seed=9)
    inside = showers.sum(1) * 0.033
    assert np.mean(inside / (inside + dropped)) > 0.95


def test_same_seed_same_showers_other_seed_differs():
    first, _ = par04_showers([2.0] * 3, seed=11)
    again, _ = par04_showers([2.0] * 3, seed=11)
    other, _ = par04_showers([2.0] * 3, seed=12)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_event_depends_only_on_seed_and_index():
    """Event 2 simulated alone equals event 2 of a run of three."""
    run, _ = par04_showers([2.0] * 3, seed=11)
    alone, _ = par04_showers([2.0], seed=11, start=2)
    assert np.array_equal(run[2], alone[0])


def test_simulate_file_jobs_resume_and_attributes(tmp_path):
    config = SimulationConfig(energy_gev="1:3", n_events=12, seed=4, chunk_size=4)
    one = tmp_path / "one.h5"
    simulate(config, one, jobs=1, progress=False, command_line="test")
    two = tmp_path / "two.h5"
    simulate(config, two, jobs=2, progress=False)
    energies, showers = read_showers(one)
    assert np.array_equal(showers, read_showers(two)[1])
    assert np.allclose(energies, incident_energies_mev("1:3", "log-uniform", 12, 4))
    assert energies.min() >= 1e3 and energies.max() <= 3e3

    # a run killed after 8 showers keeps them; --resume completes it identically
    short = SimulationConfig(energy_gev="1:3", n_events=8, seed=4, chunk_size=4)
    resumed = tmp_path / "resumed.h5"
    simulate(short, resumed, progress=False)
    resumed.rename(resumed.with_name("resumed.h5.partial"))
    simulate(config, resumed, resume=True, progress=False)
    assert np.array_equal(read_showers(resumed)[1], showers)

    import h5py

    with h5py.File(one) as h5:
        attrs = dict(h5.attrs)
    assert "data-free" in attrs["physics_list"]
    assert attrs["geant4_version"].startswith("geant4-11")
    assert attrs["sim_seed"] == 4 and attrs["sim_energy_gev"] == "1:3"
    assert attrs["command_line"] == "test" and attrs["geometry"] == "ds2"
    assert "physgen_version" in attrs


def test_features_of_simulated_showers_are_physical():
    showers, _ = par04_showers([5.0] * 5, seed=2)
    features = compute_features(DS2, np.full(5, 5e3), showers)
    # electrons enter on the axis: centres near 0, widths of a few mm
    assert np.all(np.abs(features.ec_eta[:, 5:15].mean(0)) < 3)
    assert np.all(
        (features.width_r[:, 5:15].mean(0) > 1) & (features.width_r[:, 5:15].mean(0) < 15)
    )


def test_energy_specs():
    assert np.allclose(incident_energies_mev("10", "log-uniform", 3, 1), 1e4)
    assert np.allclose(incident_energies_mev("1,10", "uniform", 3, 1), [1e3, 1e4, 1e3])
    prefix = incident_energies_mev("1:100", "log-uniform", 50, 7)
    assert np.array_equal(incident_energies_mev("1:100", "log-uniform", 80, 7)[:50], prefix)
    from physgen.core.errors import PhysgenInputError

    for bad in ("0", "5:1", "a", "1:2:3"):
        with pytest.raises(PhysgenInputError, match="energy"):
            incident_energies_mev(bad, "uniform", 2, 1)


def test_simulate_on_a_dask_scheduler_gives_the_local_file(tmp_path):
    from distributed import LocalCluster

    config = SimulationConfig(energy_gev="1:3", n_events=6, seed=4, chunk_size=2)
    simulate(config, tmp_path / "local.h5", jobs=1, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        simulate(
            config, tmp_path / "remote.h5", scheduler=cluster.scheduler_address, progress=False
        )
    assert np.array_equal(
        read_showers(tmp_path / "local.h5")[1], read_showers(tmp_path / "remote.h5")[1]
    )


def test_fast_sim_hands_entering_electrons_to_the_surrogate(tmp_path):
    """Inside the Geant4 run, each electron reaching the calorimeter face is replaced by the
    surrogate's shower for its energy, seeded from the event: deposited through the readout,
    the voxels are those the model generates alone."""
    import h5py
    import torch

    from physgen.calo.geant4.engine import event_seeds
    from physgen.calo.models import SHOWER_MODELS
    from physgen.calo.models.base import generate_showers
    from physgen.calo.models.latent import LatentFlowConfig
    from physgen.core.run import Run
    from physgen.core.training import TrainingConfig
    from physgen.models.flows import FlowConfig
    from synthetic import showers

    energies, deposits = showers(120, n_voxels=DS2.n_voxels)
    config = LatentFlowConfig(
        geometry="ds2",
        latent_components=4,
        flow=FlowConfig(transforms=2, hidden=(16,), bins=4),
        training=TrainingConfig(epochs=1, batch_size=60, patience=None),
    )
    model = SHOWER_MODELS.build(config)
    model.fit(
        torch.as_tensor(deposits), torch.as_tensor(energies).reshape(-1, 1), Run(progress=False)
    )
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.pt")

    sim = SimulationConfig(energy_gev="2:20", n_events=3, seed=4, chunk_size=3, fast_sim=str(run))
    result = simulate(sim, tmp_path / "fast.h5", progress=False)
    assert result["fast_sim"]["handed_over"] == 3
    incident, fast = read_showers(tmp_path / "fast.h5")
    alone = np.stack(
        [
            generate_showers(model, incident[i : i + 1], batch_size=1, seed=event_seeds(4, i)[0])[0]
            for i in range(3)
        ]
    )
    assert np.allclose(fast, alone, rtol=1e-5, atol=1e-6)
    with h5py.File(tmp_path / "fast.h5") as h5:
        assert h5.attrs["fast_sim_handed_over"] == 3
        assert h5.attrs["sim_fast_sim"] == str(run)
    with pytest.raises(PhysgenInputError, match="no model.pt"):
        SimulationConfig(fast_sim=str(tmp_path)).validate()
