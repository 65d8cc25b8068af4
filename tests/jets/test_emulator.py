"""The IQN jet emulator: save/load, file errors, and the train/generate/evaluate commands on a
synthetic emulation task with a known answer (Gaussian pT smearing, width falling with pT)."""

import json

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner

from physgen.cli import main
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.jets.emulator import EmulatorConfig, JetEmulator, emulate
from physgen.jets.io import read_pairs
from physgen.models.iqn import IQNConfig


def smeared_pairs(n, seed):
    """pT' = pT (1 + sigma(pT) z), sigma = 0.5 / sqrt(pT); eta, phi, m smeared by fixed widths."""
    rng = np.random.default_rng(seed)
    parton = np.stack(
        [
            20 * np.exp(rng.uniform(0, 3, n)),
            rng.uniform(-2.5, 2.5, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(2, 30, n),
        ],
        1,
    )
    sigma = 0.5 / np.sqrt(parton[:, 0])
    particle = parton.copy()
    particle[:, 0] *= 1 + sigma * rng.standard_normal(n)
    particle[:, 1] += 0.02 * rng.standard_normal(n)
    particle[:, 2] = np.angle(np.exp(1j * (parton[:, 2] + 0.02 * rng.standard_normal(n))))
    particle[:, 3] = (parton[:, 3] + 2) * np.exp(0.1 * rng.standard_normal(n)) - 2
    return parton.astype(np.float32), particle.astype(np.float32)


def write(path, parton, particle):
    with h5py.File(path, "w") as h5:
        h5["parton_jets"], h5["particle_jets"] = parton, particle
        h5["weights"] = np.ones(len(parton))
    return path


QUICK = EmulatorConfig(
    iqn=IQNConfig(hidden=(64, 64, 64)),
    training=TrainingConfig(epochs=30, batch_size=256, learning_rate=3e-3, patience=None),
)


@pytest.fixture(scope="module")
def emulator():
    model = JetEmulator.from_config(QUICK)
    parton, particle = smeared_pairs(20_000, 0)
    model.fit(torch.as_tensor(particle), torch.as_tensor(parton), Run(progress=False))
    return model


@pytest.mark.slow
def test_learned_pt_quantiles_match_the_gaussian_smearing(emulator):
    from scipy import stats

    from physgen.jets.features import input_features

    parton = np.array([[30, 0, 0, 10], [200, 1, 1, 10]], np.float32)
    x = torch.as_tensor(input_features(parton))
    for tau in (0.16, 0.5, 0.84):
        with torch.no_grad():
            q = emulator.network.quantile(x, torch.zeros(2, 4), 0, torch.full((2,), tau))
        q = q.numpy()
        exact = 1 + 0.5 / np.sqrt(parton[:, 0]) * stats.norm.ppf(tau)
        # stated tolerance: 0.01 in the response (the widths are 0.09 and 0.035)
        np.testing.assert_allclose(q, exact, atol=0.01)


@pytest.mark.slow
def test_save_load_gives_identical_samples(emulator, tmp_path):
    parton, _ = smeared_pairs(500, 1)
    emulator.save(tmp_path / "model.pt")
    loaded = JetEmulator.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(emulate(emulator, parton, 3), emulate(loaded, parton, 3))
    assert not np.array_equal(emulate(emulator, parton, 3), emulate(emulator, parton, 4))
    jets = emulate(emulator, parton, 3)
    assert np.isfinite(jets).all() and (jets[:, 0] >= 0).all() and (jets[:, 3] >= 0).all()


def test_read_pairs_errors(tmp_path):
    with pytest.raises(PhysgenInputError, match="no such file"):
        read_pairs(tmp_path / "missing.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(PhysgenInputError, match="not an HDF5 file"):
        read_pairs(tmp_path / "text.h5")
    parton, particle = smeared_pairs(10, 0)
    path = write(tmp_path / "pairs.h5", parton, particle)
    with pytest.raises(PhysgenInputError, match="--detector"):
        read_pairs(path, "detector")
    bad = parton.copy()
    bad[0, 0] = np.nan
    with pytest.raises(PhysgenInputError, match="NaN"):
        read_pairs(write(tmp_path / "nan.h5", bad, particle))


@pytest.mark.slow
def test_train_generate_evaluate_commands(tmp_path):
    train = write(tmp_path / "train.h5", *smeared_pairs(20_000, 0))
    test = write(tmp_path / "test.h5", *smeared_pairs(3000, 1))
    floor = write(tmp_path / "floor.h5", *smeared_pairs(3000, 2))
    config = tmp_path / "iqn.yaml"
    config.write_text(
        "iqn:\n  hidden: [64, 64, 64]\n"
        "training:\n  epochs: 30\n  batch_size: 256\n  learning_rate: 0.003\n  patience: null\n"
    )
    runner = CliRunner()
    run = tmp_path / "run"
    result = runner.invoke(
        main, ["jets", "train", "--data", str(train), "--out", str(run), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "gen.h5"
    result = runner.invoke(
        main, ["jets", "generate", "--run", str(run), "--inputs", str(test), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    generated_parton, generated = read_pairs(out)
    np.testing.assert_array_equal(generated_parton, read_pairs(test)[0])
    result = runner.invoke(
        main,
        [
            "jets",
            "evaluate",
            "--run",
            str(run),
            "--reference",
            str(test),
            "--generated",
            str(out),
            "--floor",
            str(floor),
            "--out",
            str(tmp_path / "ev"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert (tmp_path / "ev" / "report.html").stat().st_size > 10_000
    assert metrics["classifier"]["auc"] < 0.6 and metrics["floor_classifier"]["auc"] < 0.6
    assert metrics["monotonicity_violation_fraction"] < 0.01
    assert metrics["pit_tests"]["pt_response@all"]["ks"] < 0.08  # the tolerance of test_iqn
    result = runner.invoke(
        main,
        [
            "jets",
            "evaluate",
            "--run",
            str(run),
            "--reference",
            str(floor),
            "--generated",
            str(out),
            "--out",
            str(tmp_path / "ev2"),
        ],
    )
    assert result.exit_code != 0 and "was not generated from" in result.output


def test_training_refuses_unphysical_jets():
    """physgen 0.1.0 trained a NaN model on one negative mass and logged loss 0.0."""
    parton, particle = smeared_pairs(50, 2)
    model = JetEmulator.from_config(QUICK)
    bad = particle.copy()
    bad[3, 3] = -1.0
    with pytest.raises(PhysgenInputError, match="non-negative masses"):
        model.fit(torch.as_tensor(bad), torch.as_tensor(parton))
    with pytest.raises(PhysgenInputError, match="at least 2"):
        model.fit(torch.as_tensor(particle[:1]), torch.as_tensor(parton[:1]))
