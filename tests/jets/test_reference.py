"""Pythia 8 + FastJet reference data: record selections, determinism, resume, file contents."""

import importlib.util

import awkward as ak
import h5py
import numpy as np
import pytest

from physgen.core.errors import PhysgenInputError

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pythia8mc") is None or importlib.util.find_spec("fastjet") is None,
    reason="needs physgen[pythia]",
)

QCD = ("HardQCD:all = on", "PhaseSpace:pTHatMin = 30.")


def test_parton_level_rule_equals_pythia_is_final_parton_level():
    from physgen.jets.event_record import parton_level_mask
    from physgen.jets.pythia import make_pythia

    pythia = make_pythia(QCD, 3)
    for _ in range(8):
        records = pythia.nextBatch(1)  # pythia.event keeps the batch's last event
        mask = ak.to_numpy(parton_level_mask(records.prt)[0])
        event = pythia.event
        truth = np.array([event[i].isFinalPartonLevel() for i in range(event.size())])
        np.testing.assert_array_equal(mask, truth)


def test_parton_and_final_states_conserve_the_beam_four_momentum():
    from physgen.jets.event_record import parton_level
    from physgen.jets.pythia import make_pythia

    records = make_pythia(QCD, 4).nextBatch(20)
    for selected in (parton_level(records.prt), records.prt[records.prt.status > 0]):
        p = selected.p
        np.testing.assert_allclose(ak.to_numpy(ak.sum(p.e, axis=1)), 13000.0, rtol=1e-6)
        for component in (p.px, p.py, p.pz):
            np.testing.assert_allclose(ak.to_numpy(ak.sum(component, axis=1)), 0.0, atol=1e-3)


def simulate(tmp_path, name, jobs=1, **settings):
    from physgen.jets.simulate import JetSimulationConfig, simulate_jets

    config = JetSimulationConfig(**{"n": 150, "seed": 5, "chunk_events": 40, **settings})
    simulate_jets(config, tmp_path / name, progress=False, jobs=jobs)
    with h5py.File(tmp_path / name) as h5:
        return {key: h5[key][:] for key in h5}, dict(h5.attrs)


def test_pairs_are_deterministic_per_seed_and_physical(tmp_path):
    first, attrs = simulate(tmp_path, "a.h5", detector=True)
    second, _ = simulate(tmp_path, "b.h5", detector=True)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    parton, particle = first["parton_jets"], first["particle_jets"]
    assert len(parton) == 150 and first["detector_jets"].shape == (150, 4)
    assert (parton[:, 0] > 20).all() and (np.abs(parton[:, 1]) < 2.5).all()
    dr = np.hypot(
        parton[:, 1] - particle[:, 1], np.angle(np.exp(1j * (parton[:, 2] - particle[:, 2])))
    )
    assert (dr < 0.2).all()
    response = particle[:, 0] / parton[:, 0]
    assert 0.85 < np.median(response) < 1.05  # hadronisation + UE: ~0.97 (measured)
    from importlib.metadata import version

    assert attrs["pythia_version"] == version("pythia8mc")
    assert "HardQCD:all = on" in attrs["pythia_settings"]
    other, _ = simulate(tmp_path, "c.h5", seed=6)
    assert not np.array_equal(other["parton_jets"], parton)


def test_chunks_sharded_over_two_dask_workers_give_the_same_file(tmp_path):
    pytest.importorskip("distributed")
    local, _ = simulate(tmp_path, "local.h5")
    sharded, attrs = simulate(tmp_path, "sharded.h5", jobs=2)
    for key in local:
        np.testing.assert_array_equal(sharded[key], local[key])


def test_a_killed_run_resumes_to_the_same_file(tmp_path, monkeypatch):
    from physgen.jets import simulate as module

    whole, _ = simulate(tmp_path, "whole.h5")
    real_chunk = module._chunk_rows
    calls = {"n": 0}

    def dies_on_third_chunk(config, chunk):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_chunk(config, chunk)

    monkeypatch.setattr(module, "_chunk_rows", dies_on_third_chunk)
    config = module.JetSimulationConfig(n=150, seed=5, chunk_events=40)
    with pytest.raises(KeyboardInterrupt):
        module.simulate_jets(config, tmp_path / "cut.h5", progress=False)
    assert (tmp_path / "cut.h5.partial").exists() and not (tmp_path / "cut.h5").exists()
    monkeypatch.setattr(module, "_chunk_rows", real_chunk)
    with pytest.raises(PhysgenInputError, match="cannot resume"):
        module.simulate_jets(
            module.JetSimulationConfig(n=150, seed=6, chunk_events=40),
            tmp_path / "cut.h5",
            resume=True,
            progress=False,
        )
    module.simulate_jets(config, tmp_path / "cut.h5", resume=True, progress=False)
    with h5py.File(tmp_path / "cut.h5") as h5:
        for key in whole:
            np.testing.assert_array_equal(h5[key][:], whole[key])


def test_w_jet_clouds(tmp_path):
    clouds, attrs = simulate(tmp_path, "w.h5", task="clouds", jet_type="W", n=40, chunk_events=25)
    particles, jets = clouds["particle_features"], clouds["jet_features"]
    assert particles.shape == (40, 30, 4) and jets.shape == (40, 4)
    mask = particles[..., 3]
    assert set(np.unique(mask)) <= {0.0, 1.0}
    assert (particles[mask == 0] == 0).all()
    pt_rel = particles[..., 2]
    assert (np.diff(pt_rel, axis=1) <= 1e-7).all()  # hardest first
    np.testing.assert_array_equal(mask.sum(1), np.minimum(jets[:, 3], 30))
    assert (np.hypot(particles[..., 0], particles[..., 1])[mask == 1] < 1.0).all()
    assert 900 < np.median(jets[:, 0]) < 1100
    assert 60 < np.median(jets[:, 2]) < 110  # the W mass peak, broadened by the UE
