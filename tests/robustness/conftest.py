"""The session's valid inputs for the robustness table: a calorimeter file, trained runs of
each domain, a jet pairs file. Built once, in seconds."""

from __future__ import annotations

import pytest
from fuzz_inputs import jet_pairs, run_cli, showers, write_pairs

from physgen.calo.io import write_showers


@pytest.fixture(scope="session")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    files = {"root": root}
    files["calo"] = root / "train.h5"
    write_showers(files["calo"], *showers())
    files["reference"] = root / "reference.h5"
    write_showers(files["reference"], *showers(seed=1))
    (root / "calo.yaml").write_text(
        "model: latent-flow\nlatent_components: 4\n"
        "flow: {transforms: 2, hidden: [8], bins: 4}\n"
        "training: {epochs: 1, batch_size: 20, patience: null}\n"
    )
    files["calo_config"] = root / "calo.yaml"
    files["calo_run"] = root / "calo-run"
    result = run_cli(
        ["calo", "train", "--config", files["calo_config"], "--data", files["calo"]]
        + ["--out", files["calo_run"]]
    )
    assert result.exit_code == 0, result.output
    files["pairs"] = write_pairs(root / "pairs.h5", *jet_pairs())
    (root / "jets.yaml").write_text(
        "iqn: {hidden: [8]}\ntraining: {epochs: 1, batch_size: 50, patience: null}\n"
    )
    files["jets_run"] = root / "jets-run"
    result = run_cli(
        ["jets", "train", "--data", files["pairs"], "--config", root / "jets.yaml"]
        + ["--out", files["jets_run"]]
    )
    assert result.exit_code == 0, result.output
    files["lattice_run"] = root / "lattice-run"
    result = run_cli(
        ["lattice", "train", "--L", 4, "--beta", 0.44, "--steps", 5, "--batch-size", 20]
        + ["--out", files["lattice_run"]]
    )
    assert result.exit_code == 0, result.output
    return files
