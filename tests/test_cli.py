import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from physgen.calo.io import write_showers
from physgen.cli import main


def all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *all_commands(main)], ids=lambda p: " ".join(p) or "physgen")
def test_every_command_has_help(path):
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and "--help" in result.output


@pytest.fixture
def small_ds2_file(tmp_path):
    rng = np.random.default_rng(0)
    energies = np.array([1e3, 2e3, 4e3, 8e3], np.float32)
    showers = np.zeros((4, 6480), np.float32)
    showers[:, :10] = rng.uniform(10, 20, (4, 10))
    path = tmp_path / "small.h5"
    write_showers(path, energies, showers)
    return path, energies, showers


def test_inspect_json(small_ds2_file):
    path, energies, showers = small_ds2_file
    result = CliRunner().invoke(main, ["calo", "inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["n_events"] == 4 and summary["geometry"] == "ds2"
    assert summary["e_inc_min_mev"] == 1e3 and summary["e_inc_max_mev"] == 8e3
    assert summary["mean_etot_over_einc"] == pytest.approx(
        np.mean(showers.sum(1) / energies), rel=1e-5
    )
    # 10 of 144 voxels of layer 0 are filled, the other 44 layers are empty
    assert summary["mean_sparsity"] == pytest.approx(1 - 10 / 144 / 45, rel=1e-6)


def test_bad_input_exits_nonzero_without_traceback(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x00" * 100)
    run = subprocess.run(
        [sys.executable, "-m", "physgen.cli", "calo", "inspect", str(bad)],
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert str(bad) in run.stderr and "not an HDF5 file" in run.stderr


def test_plot_writes_pngs(small_ds2_file, tmp_path):
    path = small_ds2_file[0]
    result = CliRunner().invoke(main, ["calo", "plot", str(path), "--out", str(tmp_path / "plots")])
    assert result.exit_code == 0, result.output
    for name in ("average_shower.png", "etot_over_einc.png", "layer_energies.png"):
        png = tmp_path / "plots" / name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
