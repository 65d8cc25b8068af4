"""ONNX export of shower models: onnxruntime reproduces torch on the same noise."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from physgen.calo.export import check_parity, export_shower_model, onnx_showers, torch_showers
from physgen.calo.models import SHOWER_MODELS
from physgen.calo.models.base import generate_showers
from physgen.calo.models.diffusion import DiffusionShowerConfig
from physgen.calo.models.flows import FlowShowerConfig
from physgen.calo.models.latent import LatentFlowConfig
from physgen.cli import main
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.models.diffusion import DenoiserConfig
from physgen.models.export import load_onnx
from physgen.models.flows import FlowConfig
from physgen.models.noise import GivenNoise
from synthetic import showers

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

TRAINING = TrainingConfig(epochs=2, batch_size=50, patience=None)
FLOW = FlowConfig(kind="coupling-rqs", transforms=2, hidden=(32,), bins=4)
DIFFUSION = DiffusionShowerConfig(
    model="diffusion",
    geometry="ds1-photons",
    steps=4,
    denoiser=DenoiserConfig(hidden=32, blocks=1, embedding=8),
    training=TRAINING,
)
CONFIGS = {
    "coupling": FlowShowerConfig(
        model="coupling", geometry="ds1-photons", flow=FLOW, training=TRAINING
    ),
    "caloflow": FlowShowerConfig(
        model="caloflow",
        geometry="ds1-photons",
        flow=FLOW,
        energy_flow=FlowConfig(kind="coupling-rqs", transforms=2, hidden=(16,)),
        training=TRAINING,
    ),
    "caloflow-student": FlowShowerConfig(
        model="caloflow",
        geometry="ds1-photons",
        flow=FlowConfig(kind="maf", transforms=2, hidden=(32,)),
        energy_flow=FlowConfig(kind="coupling-rqs", transforms=2, hidden=(16,), bins=4),
        student=FlowConfig(kind="iaf", transforms=2, hidden=(32,)),
        training=TRAINING,
    ),
    "latent-flow": LatentFlowConfig(
        geometry="ds1-photons", flow=FLOW, latent_components=8, marginal_bins=4, training=TRAINING
    ),
    "flow-matching": DiffusionShowerConfig(
        model="flow-matching",
        geometry="ds1-photons",
        steps=4,
        denoiser=DenoiserConfig(hidden=32, blocks=1, embedding=8),
        training=TRAINING,
    ),
}


def trained(name):
    energies, deposits = showers(200)
    model = SHOWER_MODELS.build(DIFFUSION if name == "diffusion" else CONFIGS[name])
    model.fit(
        torch.as_tensor(deposits), torch.as_tensor(energies).reshape(-1, 1), Run(progress=False)
    )
    return model.eval()


@pytest.mark.parametrize("name", list(CONFIGS))
def test_onnxruntime_reproduces_torch_on_the_same_noise(name, tmp_path):
    model = trained(name)
    info = export_shower_model(model, tmp_path / "model.onnx")
    assert info["inputs"] == ["incident_energy", "noise"] and info["n_voxels"] == 368
    energies = np.exp(np.random.default_rng(1).uniform(np.log(1e3), np.log(1e5), 10000))
    parity = check_parity(model, tmp_path / "model.onnx", energies, seed=2, batch_size=2617)
    assert parity["showers"] == 10000 and parity["noise_width"] == info["noise_width"]
    assert parity["max_relative_difference"] < 1e-4
    # a voxel kept by one side only is one at the zero-suppression cut, within rounding
    assert parity["voxels_zero_in_one_only"] <= 1e-6 * parity["voxels"]
    assert parity["flipped_max_over_cut"] < 1 + 1e-4
    # the graph is one self-contained file; a batch of one row runs too
    assert not list(tmp_path.glob("*.data"))
    session = load_onnx(tmp_path / "model.onnx")
    noise = np.random.default_rng(3).standard_normal((1, info["noise_width"]), np.float32)
    one = onnx_showers(session, [5e4], noise)
    assert one.shape == (1, 368) and np.isfinite(one).all() and (one >= 0).all()


def test_the_graph_noise_is_the_samplers_noise():
    """The noise input stands for exactly the draws of ``sample``: a GivenNoise that replays
    a RowNoise's numbers gives the showers of ``generate_showers``."""
    model = trained("latent-flow")
    energies = np.full(16, 2e4, np.float32)  # one noise block of 16 rows
    drawn = generate_showers(model, energies, batch_size=16, seed=5)

    class Recorder(GivenNoise):
        def __init__(self, source):
            super().__init__(rows=source.rows)
            self.source, self.parts = source, []

        def normal(self, *shape, dtype=torch.float32):
            part = self.source.normal(*shape, dtype=dtype)
            self.parts.append(part.reshape(self.rows, -1))
            return part

    recorded = []
    original = model._sample

    def spy(conditions, noise):
        recorder = Recorder(noise)
        recorded.append(recorder)
        return original(conditions, recorder)

    model._sample = spy
    again = generate_showers(model, energies, batch_size=16, seed=5)
    model._sample = original
    assert np.array_equal(drawn, again)
    noise = torch.cat(recorded[0].parts, 1).numpy()
    assert np.array_equal(torch_showers(model, energies, noise), drawn)


def test_network_only_is_refused_for_flows(tmp_path):
    model = trained("coupling")
    with pytest.raises(PhysgenInputError, match="network alone|diffusion and flow-matching"):
        export_shower_model(model, tmp_path / "x.onnx", network_only=True)


def test_network_only_export_matches_the_denoiser(tmp_path):
    model = trained("diffusion")
    info = export_shower_model(model, tmp_path / "net.onnx", network_only=True)
    assert info["inputs"] == ["x", "sigma", "log_energy"]
    session = load_onnx(tmp_path / "net.onnx")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, model.n_representation), np.float32)
    sigma = np.exp(rng.uniform(-3, 3, 64)).astype(np.float32)
    condition = rng.uniform(-1, 1, (64, 1)).astype(np.float32)
    out = session.run(None, {"x": x, "sigma": sigma, "log_energy": condition})[0]
    with torch.no_grad():
        ref = model.denoiser(torch.as_tensor(x), torch.as_tensor(sigma), torch.as_tensor(condition))
    assert np.abs(out - ref.numpy()).max() < 1e-4 * max(1.0, np.abs(ref.numpy()).max())
    # the decoding graph turns the sampler's result into the model's showers
    decode = load_onnx(info["decode_path"])
    incident = np.full((64, 1), 2e4, np.float32)
    showers = decode.run(None, {"x": x, "incident_energy": incident})[0]
    with torch.no_grad():
        expected = model._clean(model._decode(torch.as_tensor(x), torch.as_tensor(incident[:, 0])))
    assert np.allclose(showers, expected.numpy(), rtol=1e-4, atol=1e-3)
    with pytest.raises(PhysgenInputError, match="network alone"):
        check_parity(model, tmp_path / "net.onnx", [1e4])
    with pytest.raises(PhysgenInputError, match="--network-only"):
        export_shower_model(model, tmp_path / "whole.onnx")


def test_cli_export_writes_the_graph_and_its_parity(tmp_path):
    model = trained("coupling")
    run = tmp_path / "run"
    run.mkdir()
    model.save(run / "model.pt")
    result = CliRunner().invoke(
        main,
        ["calo", "export", "--run", str(run), "--onnx", str(tmp_path / "m.onnx"), "--check", "200"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["parity"]["showers"] == 200
    assert report["parity"]["max_relative_difference"] < 1e-4
    again = CliRunner().invoke(
        main, ["calo", "export", "--run", str(run), "--onnx", str(tmp_path / "m.onnx")]
    )
    assert again.exit_code != 0 and "exists" in again.output
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(PhysgenInputError, match="not a readable ONNX"):
        load_onnx(broken)
