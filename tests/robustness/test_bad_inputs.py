"""Every command of every domain against a table of bad inputs (files, options, configs, run
folders, paths, a full disk). Each case must end in one of two outcome classes:
- "error": exit code 2, a message starting with "error:", no traceback;
- "ok": exit code 0 and a correct result (the case's check).
For every case, no input file changes and no JSON or HDF5 output holds NaN or inf. A new
command joins CASES; docs/robustness.md prints the table (a test keeps its counts right)."""

from __future__ import annotations

import errno
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
from fuzz_inputs import jet_pairs, run_cli, showers, write_pairs

from physgen.calo.io import write_showers

DOC = Path(__file__).resolve().parents[2] / "docs" / "robustness.md"


@dataclass
class Case:
    command: str  # "calo generate", ...
    name: str
    args: object  # (inputs, tmp) -> list of arguments after the command
    expect: str = "error"  # or "ok"
    match: str = ""  # the error message must contain this (case-insensitive regex)
    check: object = None  # (inputs, tmp, result) -> None, for "ok" cases
    setup: object = None  # (inputs, tmp) -> None
    env: dict = field(default_factory=dict)


def _text(tmp, name, text):
    (tmp / name).write_text(text)
    return tmp / name


def _calo(tmp, name, energies=None, deposits=None, scale=1.0):
    e, d = showers(40, 3, scale)
    write_showers(tmp / name, e if energies is None else energies, d if deposits is None else d)
    return tmp / name


def _energies_file(tmp, name, value):
    e, d = showers(10, 4)
    e = e.copy()
    e[2] = value
    with h5py.File(tmp / name, "w") as h5:  # written raw: physgen's writer would refuse it
        h5["incident_energies"] = e.reshape(-1, 1)
        h5["showers"] = d
    return tmp / name


def _config(tmp, text):
    return _text(tmp, "config.yaml", text)


def _copy_run(inputs, tmp, key, damage=None):
    import shutil

    run = tmp / "run"
    shutil.copytree(inputs[key], run)
    if damage == "truncate":
        data = (run / "model.pt").read_bytes()
        (run / "model.pt").write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        (run / "model.pt").write_bytes(b"\x00not a model" * 50)
    return run


def _generate(inputs, tmp, *extra):
    return ["--run", inputs["calo_run"], "--energies", inputs["reference"], *extra]


def _finite_h5(path):
    with h5py.File(path) as h5:
        for name in h5:
            assert np.isfinite(h5[name][:]).all(), f"{path}:{name} holds NaN or inf"


def _same_showers_any_batch(inputs, tmp, result):
    first = tmp / "a.h5"
    second = run_cli(
        ["calo", "generate", *_generate(inputs, tmp, "--batch-size", 1000)]
        + ["--out", tmp / "b.h5"]
    )
    assert second.exit_code == 0
    with h5py.File(first) as a, h5py.File(tmp / "b.h5") as b:
        np.testing.assert_allclose(a["showers"][:], b["showers"][:], rtol=1e-4, atol=1e-2)


def _flags_implausible(inputs, tmp, result):
    metrics = json.loads((tmp / "eval" / "metrics.json").read_text())
    assert (
        metrics["implausible_energies"] and "generator failure" in metrics["implausible_energies"]
    )


def _has_floor(inputs, tmp, result):
    metrics = json.loads((tmp / "eval" / "metrics.json").read_text())
    floor = metrics["floor"]
    assert floor["separation_histograms_official"] == metrics["separation_histograms_official"]
    excess = metrics["excess_over_floor"]["separation_mean_official"]
    assert excess == metrics["separation_mean_official"] - floor["separation_mean_official"]
    assert "floor" in result.output


def _evaluate_args(inputs, tmp, *extra, out="eval"):
    return [
        "--generated",
        inputs["calo"],
        "--reference",
        inputs["reference"],
        *extra,
        "--out",
        tmp / out,
    ]


def _export_parity(result):
    report = json.loads(result.output[result.output.index("{") :])
    assert report["parity"]["showers"] == 200
    assert report["parity"]["max_relative_difference"] < 1e-4


def _trained_model_is(model):
    def check(inputs, tmp, result):
        record = json.loads((tmp / "run" / "run.json").read_text())
        assert record["config"]["model"] == model

    return check


TRAIN = ["calo", "train"]
CALO_CONFIG_BAD = {
    "epochs-string": ('training: {epochs: "three"}', "valid integer"),
    "epochs-fraction": ("training: {epochs: 2.5}", "valid integer"),
    "batch-size-0": ("training: {batch_size: 0}", "greater than or equal to 1"),
    "learning-rate-negative": ("training: {learning_rate: -1}", "greater than 0"),
    "learning-rate-nan": ("training: {learning_rate: .nan}", "finite"),
    "unknown-flow-kind": ("model: coupling\nflow: {kind: glow}", "flow.kind"),
    "trees-block-on-coupling": ("model: coupling\ntrees: {steps: 4}", "unknown setting 'trees'"),
    "unknown-key": ("model: latent-flow\nlatent_comps: 3", "unknown setting 'latent_comps'"),
    "too-many-components": ("model: latent-flow\nlatent_components: 500", "latent_components"),
    "not-a-mapping": ("- 1\n- 2", "mapping"),
    "bad-yaml": ("model: [unclosed", "not valid YAML"),
    "unknown-model": ("model: glow", "unknown model 'glow'"),
}

CASES = [
    # --- calo inspect / plot ---------------------------------------------------------------
    Case(
        "calo inspect",
        "missing-file",
        lambda f, t: [t / "none.h5"],
        match="does not exist|no such file",
    ),
    Case("calo inspect", "text-file", lambda f, t: [_text(t, "x.h5", "hello")], match="HDF5"),
    Case("calo inspect", "valid", lambda f, t: [f["calo"]], expect="ok"),
    Case(
        "calo plot",
        "out-is-input",
        lambda f, t: [f["calo"], "--out", f["calo"]],
        match="also an input",
    ),
    Case(
        "calo plot",
        "existing-out",
        lambda f, t: [f["calo"], "--out", t],
        setup=lambda f, t: _text(t, "old.png", "x"),
        match="--overwrite",
    ),
    Case(
        "calo plot",
        "overwrite",
        lambda f, t: [f["calo"], "--out", t, "--overwrite"],
        setup=lambda f, t: _text(t, "old.png", "x"),
        expect="ok",
    ),
    Case(
        "calo plot",
        "missing-file",
        lambda f, t: [t / "none.h5", "--out", t / "p"],
        match="does not exist|no such file",
    ),
    # --- calo simulate (options only; Geant4 runs are in tests/calo/test_geant4.py) --------
    Case("calo simulate", "n-zero", lambda f, t: ["--n", 0, "--out", t / "s.h5"], match="--n"),
    Case("calo simulate", "n-negative", lambda f, t: ["--n", -5, "--out", t / "s.h5"], match="--n"),
    Case(
        "calo simulate",
        "chunk-size-zero",
        lambda f, t: ["--chunk-size", 0, "--out", t / "s.h5"],
        match="--chunk-size",
    ),
    Case(
        "calo simulate",
        "jobs-zero",
        lambda f, t: ["--jobs", 0, "--out", t / "s.h5"],
        match="--jobs",
    ),
    Case(
        "calo simulate",
        "bad-energy",
        lambda f, t: ["--energy", "abc", "--out", t / "s.h5"],
        match="energy 'abc'",
    ),
    Case(
        "calo simulate",
        "inverted-range",
        lambda f, t: ["--energy", "100:1", "--out", t / "s"],
        match="LOW < HIGH",
    ),
    Case(
        "calo simulate", "existing-out", lambda f, t: ["--n", 2, "--out", f["calo"]], match="exists"
    ),
    Case(
        "calo simulate",
        "ds1-geometry",
        lambda f, t: ["--geometry", "ds1-photons", "--out", t / "s.h5"],
        match="ds2",
    ),
    Case("calo simulate", "no-out", lambda f, t: ["--n", 2], match="--out"),
    Case(
        "calo simulate",
        "fast-sim-without-model",
        lambda f, t: ["--n", 2, "--fast-sim", t, "--out", t / "s.h5"],
        match="no model.pt",
    ),
    Case(
        "calo simulate",
        "scheduler-unreachable",
        lambda f, t: ["--n", 2, "--scheduler", "tcp://127.0.0.1:1", "--out", t / "s.h5"],
        match="no Dask scheduler",
    ),
    # --- calo export -----------------------------------------------------------------------
    Case(
        "calo export",
        "missing-run",
        lambda f, t: ["--run", t / "none", "--onnx", t / "m.onnx"],
        match="no model.pt|does not exist|no such",
    ),
    Case(
        "calo export",
        "garbage-model",
        lambda f, t: ["--run", _copy_run(f, t, "calo_run", "garbage"), "--onnx", t / "m.onnx"],
        match="not a readable physgen model",
    ),
    Case(
        "calo export",
        "existing-out",
        lambda f, t: ["--run", f["calo_run"], "--onnx", f["calo"]],
        match="exists|--overwrite",
    ),
    Case(
        "calo export",
        "network-only-on-a-flow",
        lambda f, t: ["--run", f["calo_run"], "--onnx", t / "m.onnx", "--network-only"],
        match="diffusion and flow-matching",
    ),
    Case(
        "calo export",
        "valid",
        lambda f, t: ["--run", f["calo_run"], "--onnx", t / "m.onnx", "--check", 200],
        expect="ok",
        check=lambda f, t, r: _export_parity(r),
    ),
    # --- calo train ------------------------------------------------------------------------
    *[
        Case(
            "calo train",
            f"config-{name}",
            lambda f, t, text=text: [
                "--config",
                _config(t, text),
                "--data",
                f["calo"],
                "--out",
                t / "run",
            ],
            match=re.escape(message),
        )
        for name, (text, message) in CALO_CONFIG_BAD.items()
    ],
    Case(
        "calo train",
        "epochs-zero",
        lambda f, t: ["--epochs", 0, "--data", f["calo"], "--out", t / "run"],
        match="--epochs",
    ),
    Case(
        "calo train",
        "epochs-negative",
        lambda f, t: ["--epochs", -2, "--data", f["calo"], "--out", t / "run"],
        match="--epochs",
    ),
    Case(
        "calo train",
        "missing-data",
        lambda f, t: ["--data", t / "no.h5", "--out", t / "r"],
        match="does not exist|no such file",
    ),
    Case(
        "calo train",
        "garbage-data",
        lambda f, t: ["--data", _text(t, "g.h5", "garbage"), "--out", t / "r"],
        match="HDF5",
    ),
    Case(
        "calo train",
        "existing-run",
        lambda f, t: ["--config", f["calo_config"], "--data", f["calo"], "--out", f["calo_run"]],
        match="already holds a trained model",
    ),
    Case(
        "calo train",
        "model-from-config",
        lambda f, t: ["--config", f["calo_config"], "--data", f["calo"], "--out", t / "run"],
        expect="ok",
        check=_trained_model_is("latent-flow"),
    ),
    Case(
        "calo train",
        "bad-device",
        lambda f, t: ["--device", "tpu", "--data", f["calo"], "--out", t / "run"],
        match="unknown device",
    ),
    # --- calo generate ---------------------------------------------------------------------
    Case(
        "calo generate",
        "batch-size-negative",
        lambda f, t: _generate(f, t, "--batch-size", -3, "--out", t / "g.h5"),
        match="--batch-size",
    ),
    Case(
        "calo generate",
        "batch-size-zero",
        lambda f, t: _generate(f, t, "--batch-size", 0, "--out", t / "g.h5"),
        match="--batch-size",
    ),
    Case(
        "calo generate",
        "n-zero",
        lambda f, t: ["--run", f["calo_run"], "--energies", "1:100", "--n", 0, "--out", t / "g.h5"],
        match="--n",
    ),
    Case(
        "calo generate",
        "n-negative",
        lambda f, t: [
            "--run",
            f["calo_run"],
            "--energies",
            "1:100",
            "--n",
            -5,
            "--out",
            t / "g.h5",
        ],
        match="--n",
    ),
    Case(
        "calo generate",
        "range-without-n",
        lambda f, t: ["--run", f["calo_run"], "--energies", "1:100", "--out", t / "g.h5"],
        match="--n",
    ),
    Case(
        "calo generate",
        "nan-energy",
        lambda f, t: [
            "--run",
            f["calo_run"],
            "--energies",
            _energies_file(t, "e.h5", np.nan),
            "--out",
            t / "g.h5",
        ],
        match="incident energ",
    ),
    Case(
        "calo generate",
        "zero-energy",
        lambda f, t: [
            "--run",
            f["calo_run"],
            "--energies",
            _energies_file(t, "e.h5", 0.0),
            "--out",
            t / "g.h5",
        ],
        match="incident energ",
    ),
    Case(
        "calo generate",
        "negative-energy",
        lambda f, t: [
            "--run",
            f["calo_run"],
            "--energies",
            _energies_file(t, "e.h5", -5.0),
            "--out",
            t / "g.h5",
        ],
        match="incident energ",
    ),
    Case(
        "calo generate",
        "out-is-energies",
        lambda f, t: _generate(f, t, "--out", f["reference"]),
        match="also an input",
    ),
    Case(
        "calo generate",
        "existing-out",
        lambda f, t: _generate(f, t, "--out", f["calo"]),
        match="--overwrite",
    ),
    Case(
        "calo generate",
        "missing-run",
        lambda f, t: ["--run", t / "none", "--energies", f["reference"], "--out", t / "g.h5"],
        match="no model.pt",
    ),
    Case(
        "calo generate",
        "truncated-model",
        lambda f, t: [
            "--run",
            _copy_run(f, t, "calo_run", "truncate"),
            "--energies",
            f["reference"],
            "--out",
            t / "g.h5",
        ],
        match="model.pt",
    ),
    Case(
        "calo generate",
        "garbage-model",
        lambda f, t: [
            "--run",
            _copy_run(f, t, "calo_run", "garbage"),
            "--energies",
            f["reference"],
            "--out",
            t / "g.h5",
        ],
        match="model.pt",
    ),
    Case(
        "calo generate",
        "sampler-on-a-flow",
        lambda f, t: _generate(f, t, "--sampler", "heun", "--out", t / "g.h5"),
        match="--sampler",
    ),
    Case(
        "calo generate",
        "full-disk",
        lambda f, t: _generate(f, t, "--out", t / "g.h5"),
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    Case(
        "calo generate",
        "any-batch-size",
        lambda f, t: _generate(f, t, "--batch-size", 7, "--out", t / "a.h5"),
        expect="ok",
        check=_same_showers_any_batch,
    ),
    # --- calo evaluate ---------------------------------------------------------------------
    Case(
        "calo evaluate",
        "existing-out",
        lambda f, t: ["--generated", f["calo"], "--reference", f["reference"], "--out", t],
        setup=lambda f, t: _text(t, "metrics.json", "{}"),
        match="--overwrite",
    ),
    Case(
        "calo evaluate",
        "out-is-input",
        lambda f, t: ["--generated", f["calo"], "--reference", f["reference"], "--out", f["calo"]],
        match="also an input",
    ),
    Case(
        "calo evaluate",
        "missing-generated",
        lambda f, t: ["--generated", t / "no.h5", "--reference", f["reference"], "--out", t / "e"],
        match="does not exist|no such file",
    ),
    Case(
        "calo evaluate",
        "unknown-metric",
        lambda f, t: [
            "--generated",
            f["calo"],
            "--reference",
            f["reference"],
            "--metrics",
            "nope",
            "--out",
            t / "e",
        ],
        match="unknown metrics",
    ),
    Case(
        "calo evaluate",
        "scaled-by-1e30",
        lambda f, t: [
            "--generated",
            _calo(t, "big.h5", scale=1e30),
            "--reference",
            f["reference"],
            "--metrics",
            "hist",
            "--quick",
            "--out",
            t / "eval",
        ],
        expect="ok",
        check=_flags_implausible,
    ),
    Case(
        "calo evaluate",
        "repeats-zero",
        lambda f, t: _evaluate_args(f, t, "--repeats", 0),
        match="--repeats",
    ),
    Case(
        "calo evaluate",
        "floor-missing",
        lambda f, t: _evaluate_args(f, t, "--floor", t / "no.h5"),
        match="does not exist",
    ),
    Case(
        "calo evaluate",
        "floor-is-reference",
        lambda f, t: _evaluate_args(f, t, "--floor", f["reference"]),
        match="file itself",
    ),
    Case(
        "calo evaluate",
        "out-is-floor",
        lambda f, t: [
            "--generated",
            f["calo"],
            "--reference",
            f["reference"],
            "--floor",
            _calo(t, "floor.h5"),
            "--out",
            t / "floor.h5",
        ],
        match="also an input",
    ),
    Case(
        "calo evaluate",
        "with-floor",
        lambda f, t: _evaluate_args(
            f, t, "--metrics", "hist", "--floor", _calo(t, "floor.h5", scale=1.01)
        ),
        expect="ok",
        check=_has_floor,
    ),
    # --- lattice ---------------------------------------------------------------------------
    Case("lattice exact", "beta-nan", lambda f, t: ["--L", 4, "--beta", "nan"], match="beta"),
    Case("lattice exact", "beta-inf", lambda f, t: ["--L", 4, "--beta", "inf"], match="beta"),
    Case("lattice exact", "L-zero", lambda f, t: ["--L", 0, "--beta", 0.4], match="--L"),
    Case("lattice exact", "valid", lambda f, t: ["--L", 4, "--beta", 0.4], expect="ok"),
    *[
        Case(
            "lattice train",
            name,
            lambda f, t, extra=extra: [*extra, "--out", t / "run"],
            match=message,
        )
        for name, extra, message in [
            ("L-zero", ["--L", 0, "--beta", 0.4], "'L' = 0"),
            ("L-negative", ["--L", -3, "--beta", 0.4], "'L' = -3"),
            ("beta-nan", ["--L", 4, "--beta", "nan"], "beta"),
            ("beta-inf", ["--L", 4, "--beta", "inf"], "beta"),
            ("batch-size-zero", ["--L", 4, "--beta", 0.4, "--batch-size", 0], "--batch-size"),
            ("steps-zero", ["--L", 4, "--beta", 0.4, "--steps", 0], "--steps"),
            (
                "trotter-step-zero",
                ["--model", "tfim-chain", "--L", 4, "--beta", 1, "--trotter-step", 0],
                "trotter",
            ),
            (
                "trotter-not-dividing",
                ["--model", "tfim-chain", "--L", 4, "--beta", 1, "--trotter-step", 0.3],
                "Trotter",
            ),
        ]
    ],
    Case(
        "lattice train",
        "han-L-6",
        lambda f, t: [
            "--L",
            6,
            "--beta",
            0.4,
            "--config",
            _config(t, "network: han"),
            "--out",
            t / "run",
        ],
        match="power of two",
    ),
    Case(
        "lattice train",
        "config-wrong-type",
        lambda f, t: [
            "--L",
            4,
            "--beta",
            0.4,
            "--config",
            _config(t, "width: wide"),
            "--out",
            t / "run",
        ],
        match="width",
    ),
    Case(
        "lattice train",
        "existing-run",
        lambda f, t: ["--L", 4, "--beta", 0.44, "--out", f["lattice_run"]],
        match="already holds",
    ),
    Case(
        "lattice estimate",
        "samples-zero",
        lambda f, t: [f["lattice_run"], "--samples", 0],
        match="--samples",
    ),
    Case("lattice estimate", "missing-run", lambda f, t: [t / "none"], match="no model.pt"),
    Case(
        "lattice estimate",
        "garbage-model",
        lambda f, t: [_copy_run(f, t, "lattice_run", "garbage")],
        match="model.pt",
    ),
    Case(
        "lattice estimate",
        "unknown-observable",
        lambda f, t: [f["lattice_run"], "--observables", "nope"],
        match="unknown observable",
    ),
    Case(
        "lattice estimate", "valid", lambda f, t: [f["lattice_run"], "--samples", 200], expect="ok"
    ),
    # --- jets ------------------------------------------------------------------------------
    Case(
        "jets train",
        "negative-mass",
        lambda f, t: ["--data", write_pairs(t / "p.h5", *_bad_mass()), "--out", t / "run"],
        match="non-negative masses|mass",
    ),
    Case(
        "jets train",
        "one-row",
        lambda f, t: ["--data", write_pairs(t / "p.h5", *jet_pairs(1)), "--out", t / "run"],
        match="at least 2",
    ),
    Case(
        "jets train",
        "zero-rows",
        lambda f, t: ["--data", write_pairs(t / "p.h5", *jet_pairs(0)), "--out", t / "run"],
        match="at least 2|no jets|empty",
    ),
    Case(
        "jets train",
        "epochs-zero",
        lambda f, t: ["--data", f["pairs"], "--epochs", 0, "--out", t / "run"],
        match="--epochs",
    ),
    Case(
        "jets generate",
        "existing-out",
        lambda f, t: ["--run", f["jets_run"], "--inputs", f["pairs"], "--out", f["calo"]],
        match="--overwrite",
    ),
    Case(
        "jets generate",
        "out-is-inputs",
        lambda f, t: ["--run", f["jets_run"], "--inputs", f["pairs"], "--out", f["pairs"]],
        match="also an input",
    ),
    Case(
        "jets generate",
        "garbage-model",
        lambda f, t: [
            "--run",
            _copy_run(f, t, "jets_run", "garbage"),
            "--inputs",
            f["pairs"],
            "--out",
            t / "g.h5",
        ],
        match="model.pt",
    ),
    Case(
        "jets generate",
        "valid",
        lambda f, t: ["--run", f["jets_run"], "--inputs", f["pairs"], "--out", t / "g.h5"],
        expect="ok",
    ),
    Case(
        "jets evaluate",
        "reference-5-rows",
        lambda f, t: [
            "--run",
            f["jets_run"],
            "--reference",
            write_pairs(t / "r.h5", *jet_pairs(5)),
            "--out",
            t / "e",
        ],
        match="rows|at least",
    ),
    Case(
        "jets evaluate",
        "existing-out",
        lambda f, t: ["--run", f["jets_run"], "--reference", f["pairs"], "--out", t],
        setup=lambda f, t: _text(t, "metrics.json", "{}"),
        match="--overwrite",
    ),
    # --- added: full disks, damaged checkpoints and caches, config-selected lattices --------
    Case(
        "calo train",
        "full-disk",
        lambda f, t: ["--config", f["calo_config"], "--data", f["calo"], "--out", t / "run"],
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    Case(
        "calo train",
        "truncated-checkpoint-resume",
        lambda f, t: [
            "--config",
            f["calo_config"],
            "--data",
            f["calo"],
            "--out",
            _damaged_checkpoint(f, t),
            "--resume",
        ],
        match="checkpoint",
    ),
    Case(
        "calo evaluate",
        "full-disk",
        lambda f, t: [
            "--generated",
            f["calo"],
            "--reference",
            f["reference"],
            "--metrics",
            "hist",
            "--out",
            t / "e",
        ],
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    Case(
        "calo evaluate",
        "damaged-cache",
        lambda f, t: [
            "--generated",
            f["calo"],
            "--reference",
            _with_damaged_cache(f, t),
            "--metrics",
            "hist",
            "--quick",
            "--out",
            t / "e",
        ],
        expect="ok",
    ),
    Case(
        "calo plot",
        "full-disk",
        lambda f, t: [f["calo"], "--out", t / "plots"],
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    Case(
        "lattice train",
        "config-unknown-lattice",
        lambda f, t: [
            "--L",
            4,
            "--beta",
            0.4,
            "--config",
            _config(t, "lattice: ising3d"),
            "--out",
            t / "run",
        ],
        match="lattice",
    ),
    Case(
        "lattice train",
        "config-lattice-used",
        lambda f, t: [
            "--L",
            4,
            "--beta",
            1.0,
            "--steps",
            2,
            "--batch-size",
            8,
            "--config",
            _config(t, "lattice: tfim-chain\ntrotter_step: 0.5"),
            "--out",
            t / "run",
        ],
        expect="ok",
        check=lambda f, t, r: _lattice_is(t, "tfim-chain"),
    ),
    Case(
        "jets generate",
        "full-disk",
        lambda f, t: ["--run", f["jets_run"], "--inputs", f["pairs"], "--out", t / "g.h5"],
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    Case(
        "calo simulate",
        "physics-unknown",
        lambda f, t: ["--n", 2, "--physics", "NOPE", "--out", t / "s.h5"],
        match="unknown Geant4 reference physics list|reference physics lists .* need the",
    ),
    Case(
        "calo simulate",
        "physics-without-data",
        lambda f, t: ["--n", 2, "--physics", "FTFP_BERT", "--out", t / "s.h5"],
        match="need the Geant4 data sets",
    ),
    Case("jets simulate", "n-zero", lambda f, t: ["--n", 0, "--out", t / "j.h5"], match="--n"),
    Case(
        "jets simulate",
        "pt-hat-negative",
        lambda f, t: ["--n", 5, "--pt-hat-min", -1, "--out", t / "j.h5"],
        match="--pt-hat-min",
    ),
    Case(
        "jets simulate",
        "chunk-zero",
        lambda f, t: ["--n", 5, "--chunk-events", 0, "--out", t / "j.h5"],
        match="--chunk-events",
    ),
    Case(
        "jets simulate",
        "existing-out",
        lambda f, t: ["--n", 5, "--out", f["pairs"]],
        match="exists",
    ),
    Case(
        "calo simulate",
        "full-disk",
        lambda f, t: ["--n", 2, "--energy", "2:5", "--out", t / "s.h5"],
        env={"PHYSGEN_TEST_ENOSPC": "1"},
        match="No space left",
    ),
    # --- nested ----------------------------------------------------------------------------
    Case("nested run", "no-problem", lambda f, t: ["--out", t / "r"], match="--problem"),
    Case(
        "nested run",
        "both-problem-and-file",
        lambda f, t: ["--problem", "gaussian", "--dim", 2, "--likelihood", _user(t), "--out", t],
        match="one of",
    ),
    Case(
        "nested run",
        "no-dim",
        lambda f, t: ["--problem", "shells", "--out", t / "r"],
        match="--dim",
    ),
    Case(
        "nested run",
        "live-5",
        lambda f, t: ["--problem", "shells", "--dim", 2, "--live", 5, "--out", t / "r"],
        match="--live",
    ),
    Case(
        "nested run",
        "dlogz-zero",
        lambda f, t: ["--problem", "shells", "--dim", 2, "--dlogz", 0, "--out", t / "r"],
        match="--dlogz",
    ),
    Case(
        "nested run",
        "rosenbrock-3d",
        lambda f, t: ["--problem", "rosenbrock", "--dim", 3, "--out", t / "r"],
        match="2-D",
    ),
    Case(
        "nested run",
        "missing-file",
        lambda f, t: ["--likelihood", t / "none.py", "--out", t / "r"],
        match="no such likelihood file",
    ),
    Case(
        "nested run",
        "broken-file",
        lambda f, t: ["--likelihood", _text(t, "b.py", "def ("), "--out", t / "r"],
        match="cannot run it",
    ),
    Case(
        "nested run",
        "nan-likelihood",
        lambda f, t: ["--likelihood", _user(t, nan=True), "--live", 50, "--out", t / "r"],
        match="returned nan",
    ),
    Case(
        "nested run",
        "unfinished-without-resume",
        lambda f, t: ["--problem", "gaussian", "--dim", 2, "--out", t / "r"],
        setup=lambda f, t: (t / "r" / "checkpoint").mkdir(parents=True),
        match="--resume",
    ),
    Case(
        "nested run",
        "valid",
        lambda f, t: [
            "--problem",
            "gaussian",
            "--dim",
            2,
            "--live",
            50,
            "--proposal",
            "rwalk",
            "--out",
            t / "r",
        ],
        expect="ok",
        check=lambda f, t, r: _evidence_close(t / "r"),
    ),
    # --- emulate ---------------------------------------------------------------------------
    Case(
        "emulate learn",
        "unknown-setting",
        lambda f, t: ["--simulator", "ishigami", "--sim-option", "z=1", "--out", t / "r"],
        match="unknown setting 'z'",
    ),
    Case(
        "emulate learn",
        "option-without-value",
        lambda f, t: ["--simulator", "ishigami", "--sim-option", "a", "--out", t / "r"],
        match="KEY=VALUE",
    ),
    Case(
        "emulate learn",
        "grid-too-small",
        lambda f, t: [
            "--simulator",
            "ishigami",
            "--strategy",
            "grid",
            "--budget",
            5,
            "--out",
            t / "r",
        ],  # fmt: skip
        match="at least 8 points",
    ),
    Case(
        "emulate learn",
        "valid",
        lambda f, t: [
            "--simulator",
            "ishigami",
            "--strategy",
            "lhs",
            "--budget",
            12,
            "--test-points",
            4,
            "--out",
            t / "r",
        ],  # fmt: skip
        expect="ok",
        check=lambda f, t, r: _learning_finite(t / "r"),
    ),
    Case(
        "emulate fit",
        "not-a-run",
        lambda f, t: [t, "--observed", _text(t, "o.json", "{}"), "--out", t / "f"],
        match="no model.pt",
    ),
    Case(
        "emulate observe",
        "outside-the-bounds",
        lambda f, t: ["--simulator", "ishigami", "--parameters", "9,0,0", "--out", t / "o.json"],
        match="outside the bounds",
    ),
    Case(
        "emulate report",
        "not-a-run",
        lambda f, t: [t, "--out", t / "report"],
        match="no learning.json",
    ),
    Case(
        "emulate info",
        "valid",
        lambda f, t: ["--simulator", "ishigami"],
        expect="ok",
        check=lambda f, t, r: _info_lists(r.output),
    ),
    # --- integrate -------------------------------------------------------------------------
    Case(
        "integrate train",
        "unknown-target",
        lambda f, t: ["--target", "nope", "--out", t / "r"],
        match="unknown target",
    ),
    Case(
        "integrate train",
        "nan-target",
        lambda f, t: ["--target", f"{_density(t, nan=True)}:f", "--out", t / "r"],
        match="returns nan",
    ),
    Case(
        "integrate train",
        "numpy-target",
        lambda f, t: ["--target", f"{_density(t, numpy=True)}:f", "--out", t / "r"],
        match="not differentiable",
    ),
    Case(
        "integrate train",
        "valid",
        lambda f, t: [
            "--target",
            "gaussian",
            "--method",
            "nis",
            "--budget",
            2000,
            "--batch-size",
            64,
            "--out",
            t / "r",
        ],  # fmt: skip
        expect="ok",
        check=lambda f, t, r: _model_written(t / "r"),
    ),
    Case(
        "integrate estimate",
        "not-a-run",
        lambda f, t: [t],
        match="no model.pt",
    ),
    Case(
        "integrate sample",
        "not-a-run",
        lambda f, t: [t, "--n", 10, "--out", t / "e.h5"],
        match="no model.pt",
    ),
]


def _info_lists(output):
    for name in ("x1", "x2", "x3"):
        assert f"parameter {name}: [-3.14159, 3.14159]" in output
    assert "summaries: f" in output


def _learning_finite(run):
    record = json.loads((run / "learning.json").read_text())
    assert record["calls"] == 12 and np.isfinite(record["rmse"])


def _density(tmp, nan=False, numpy=False):
    body = "torch.log(x[:, 0] - 10)" if nan else "-(x**2).sum(1)"
    if numpy:
        body = "torch.as_tensor(-(x.detach().numpy() ** 2).sum(1))"
    return _text(
        tmp,
        "density.py",
        f"import torch\nbounds = [(-1, 1), (-1, 1)]\ndef f(x):\n    return {body}\n",
    )


def _model_written(run):
    from physgen.registry import load_model

    assert load_model(run / "model.pt").name == "density-flow"


def _user(tmp, nan=False):
    body = "-np.sum(theta**2, 1)" if not nan else "np.full(len(theta), np.nan)"
    return _text(
        tmp,
        "user.py",
        f"import numpy as np\nbounds = [(-1, 1), (-1, 1)]\n"
        f"def log_likelihood(theta):\n    return {body}\n",
    )


def _evidence_close(run):
    found = json.loads((run / "result.json").read_text())
    assert abs(found["log_z"] - found["log_z_exact"]) < 4 * found["log_z_err"]


def _damaged_checkpoint(inputs, tmp):
    run = _copy_run(inputs, tmp, "calo_run")
    (run / "model.pt").unlink()
    checkpoint = run / "checkpoints" / "flow" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    return run


def _with_damaged_cache(inputs, tmp):
    import shutil

    reference = tmp / "ref.h5"
    shutil.copy(inputs["reference"], reference)
    first = run_cli(
        ["calo", "evaluate", "--generated", inputs["calo"], "--reference", reference]
        + ["--metrics", "hist", "--quick", "--out", tmp / "first"]
    )
    assert first.exit_code == 0, first.output
    caches = list((tmp / ".physgen-cache").glob("*.npz"))
    assert caches
    for cache in caches:
        cache.write_bytes(b"damaged")
    return reference


def _lattice_is(tmp, lattice):
    record = json.loads((tmp / "run" / "run.json").read_text())
    assert record["config"]["lattice"] == lattice


def _bad_mass():
    parton, particle = jet_pairs(50, 2)
    particle[3, 3] = -1.0
    return parton, particle


def _digest(root: Path) -> dict:
    """Hashes of the files under ``root``, caches beside them (.physgen-cache) aside."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".physgen-cache" not in p.parts
    }


@pytest.fixture
def full_disk(monkeypatch):
    """An injected ENOSPC at the rename of every atomic write (mounting a small tmpfs needs
    privileges the test machines may not give)."""
    import os

    import physgen.core.atomic as atomic

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(atomic.os, "replace", no_space)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.command}:{c.name}")
def test_outcome(case, inputs, tmp_path, request):
    if case.env.get("PHYSGEN_TEST_ENOSPC"):
        request.getfixturevalue("full_disk")
    before = _digest(inputs["root"])
    if case.setup is not None:
        case.setup(inputs, tmp_path)
    args = case.args(inputs, tmp_path)
    given = set(tmp_path.rglob("*"))  # bad inputs the case wrote: not outputs
    result = run_cli([*case.command.split(), *args])
    output = result.output
    assert "Traceback" not in output
    if case.expect == "error":
        assert result.exit_code == 2, f"exit {result.exit_code}: {output}\n{result.exception!r}"
        assert re.search(case.match, output, re.IGNORECASE), output
        assert "error" in output.lower()
        assert not list(tmp_path.rglob(".*.tmp")), "a temporary file was left behind"
    else:
        assert result.exit_code == 0, f"exit {result.exit_code}: {output}\n{result.exception!r}"
        if case.check is not None:
            case.check(inputs, tmp_path, result)
    for path in set(tmp_path.rglob("*")) - given:
        if path.suffix == ".json":
            json.loads(path.read_text(), parse_constant=_no_constant)
        elif path.suffix == ".h5" and h5py.is_hdf5(path):
            _finite_h5(path)
    assert _digest(inputs["root"]) == before, "an input was changed"


def _no_constant(name):
    raise AssertionError(f"JSON holds {name}")


def test_the_documented_table_matches_the_cases():
    counts = Counter(case.command for case in CASES)
    text = DOC.read_text()
    for command, count in counts.items():
        assert re.search(rf"\| `physgen {command}` \| {count} \|", text), (command, count)
    kinds = Counter(case.expect for case in CASES)
    totals = f"{len(CASES)} cases, {kinds['error']} clear errors, {kinds['ok']} correct results"
    assert totals in text
    for command in counts:
        errors = sum(c.expect == "error" for c in CASES if c.command == command)
        oks = counts[command] - errors
        assert re.search(
            rf"\| `physgen {command}` \| {counts[command]} \| {errors} \| {oks} \|", text
        )
