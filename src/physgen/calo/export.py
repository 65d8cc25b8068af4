"""``physgen calo export``: a trained shower model as one ONNX graph for a C++ simulation.

The graph's contract (docs/deploy.md):
- input ``incident_energy``: (N, 1) float32, MeV;
- input ``noise``: (N, noise_width) float32 standard normals (noise_width in the metadata);
- output ``showers``: (N, n_voxels) float32 voxel energies in MeV in the CaloChallenge voxel
  order of the geometry, zero-suppressed and never negative, as ``physgen calo generate``.
Flow-matching models export their whole sampler (the run's sampler and number of steps,
unrolled); diffusion models export their denoiser alone (``network_only``; their samplers
branch on the noise levels in Python), for a simulation that runs the sampler loop itself, as
flow matching can too. The ``trees`` model is an xgboost ensemble, not
a torch graph, and does not export.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from physgen.calo.models.base import ShowerModel
from physgen.calo.showers import log_energy
from physgen.core.errors import PhysgenInputError
from physgen.models.export import (
    SamplingGraph,
    export_onnx,
    graph_metadata,
    load_onnx,
    noise_width,
    relative_difference,
)
from physgen.models.noise import GivenNoise

__all__ = ["decode_path", "export_shower_model", "onnx_showers", "check_parity", "INPUTS", "OUTPUT"]

INPUTS = ("incident_energy", "noise")
OUTPUT = "showers"
# the example batch the graph is traced on: a size no model dimension has, since a batch
# equal to one (3 rows against 3 = bins - 1 knot derivatives, say) gets fixed in the graph
EXAMPLE_ROWS = 1009


class _NetworkGraph(nn.Module):
    """A diffusion model's denoiser D(x, sigma, log E_inc) or flow-matching velocity
    v(x, t, log E_inc) on the standardised representation."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x, level, condition):
        return self.network(x, level, condition)


class _DecodeGraph(nn.Module):
    """The end of a diffusion / flow-matching sampler: the sampled standardised
    representation and the incident energy (MeV) -> showers in MeV, cleaned as ``sample``."""

    def __init__(self, model: ShowerModel):
        super().__init__()
        self.model = model

    def forward(self, x, incident_energy):
        return self.model._clean(self.model._decode(x, incident_energy[:, 0]))


def decode_path(path) -> Path:
    """Where --network-only writes the decoding graph beside the network: NAME.decode.onnx."""
    path = Path(path)
    return path.with_name(path.stem + ".decode" + path.suffix)


def _check_exportable(model: ShowerModel) -> None:
    if not isinstance(model, nn.Module) or model.name == "trees":
        raise PhysgenInputError(
            f"the {model.name} model is a gradient-boosted tree ensemble (xgboost), not a torch "
            "graph, and cannot be exported to ONNX; export a flow, latent-flow, diffusion or "
            "flow-matching run"
        )


def export_shower_model(model: ShowerModel, path, network_only: bool = False) -> dict:
    """Write ``model`` to ``path`` as ONNX; returns the graph's description (inputs,
    output, noise width, metadata)."""
    _check_exportable(model)
    model = model.cpu().eval()
    conditions = torch.logspace(3, 5, EXAMPLE_ROWS).reshape(-1, 1)
    metadata = {
        "model": model.name,
        "geometry": model.config.geometry,
        "n_voxels": model.geometry.n_voxels,
        "energy_unit": "MeV",
    }
    if network_only:
        if not hasattr(model, "n_representation"):
            raise PhysgenInputError(
                "--network-only applies to diffusion and flow-matching models, whose sampler "
                f"loop runs outside the graph; {model.name} exports as a whole"
            )
        network = model.denoiser if model.name == "diffusion" else model.velocity
        n = len(conditions)
        example = (
            torch.randn(n, model.n_representation),
            torch.ones(n),
            log_energy(conditions[:, 0]),
        )
        names = ("x", "sigma" if model.name == "diffusion" else "t", "log_energy")
        metadata.update(kind="network", n_representation=model.n_representation)
        export_onnx(_NetworkGraph(network), example, path, names, "output", metadata)
        decode = decode_path(path)
        export_onnx(
            _DecodeGraph(model),
            (example[0], conditions),
            decode,
            ("x", "incident_energy"),
            OUTPUT,
            {**metadata, "kind": "decode"},
        )
        return {
            "path": str(path),
            "inputs": list(names),
            "output": "output",
            "decode_path": str(decode),
            **metadata,
        }
    if model.name == "diffusion":
        raise PhysgenInputError(
            "a diffusion model exports its denoiser alone (--network-only): its samplers "
            "choose their updates by comparing noise levels in Python, which a traced graph "
            "cannot hold; run the sampler loop of docs/deploy.md around the exported network "
            "(flow-matching models export whole)"
        )
    width = noise_width(model, conditions)
    if getattr(model, "samplers", ()):
        metadata.update(sampler=model.sampler_name, steps=model.steps)
    metadata.update(kind="generator", noise_width=width)
    example = (conditions, torch.randn(len(conditions), width))
    export_onnx(SamplingGraph(model), example, path, INPUTS, OUTPUT, metadata)
    return {"path": str(path), "inputs": list(INPUTS), "output": OUTPUT, **metadata}


def _generator_noise_width(session) -> int:
    metadata = graph_metadata(session)
    if metadata.get("kind") != "generator":
        raise PhysgenInputError(
            "this ONNX file holds a network alone (--network-only), not a shower generator"
        )
    return int(metadata["noise_width"])


def onnx_showers(session, incident_mev, noise, batch_size: int = 10000) -> np.ndarray:
    """Showers (MeV) from an exported generator for these incident energies and noise."""
    energies = np.asarray(incident_mev, np.float32).reshape(-1, 1)
    noise = np.asarray(noise, np.float32)
    parts = [
        session.run(
            [OUTPUT],
            {INPUTS[0]: energies[i : i + batch_size], INPUTS[1]: noise[i : i + batch_size]},
        )[0]
        for i in range(0, len(energies), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)


def torch_showers(
    model: ShowerModel, incident_mev, noise, batch_size: int = 10000, dtype=torch.float32
):
    """The same showers from the torch model with the same noise (in ``dtype``: float64 on a
    float64 copy of the model measures what float32 rounding alone does)."""
    energies = torch.as_tensor(np.asarray(incident_mev, np.float32)).reshape(-1, 1).to(dtype)
    noise = torch.as_tensor(np.asarray(noise, np.float32)).to(dtype)
    model = model.eval()
    with torch.no_grad():
        parts = [
            model._sample(energies[i : i + batch_size], GivenNoise(noise[i : i + batch_size]))
            for i in range(0, len(energies), batch_size)
        ]
    return torch.cat(parts).float().numpy()


def check_parity(
    model: ShowerModel,
    path,
    incident_mev,
    seed: int = 0,
    batch_size: int = 10000,
    float64_floor: bool = False,
) -> dict:
    """onnxruntime against torch on the same incident energies and noise: the largest
    relative difference of a voxel (relative to max(|torch|, the zero-suppression cut)) among
    the voxels both sides keep, the voxels at the cut that only one side keeps, and each
    side's wall time. With ``float64_floor``, the same difference between torch in float32
    and a float64 copy of the model: what float32 rounding alone changes."""
    session = load_onnx(path)
    width = _generator_noise_width(session)
    energies = np.asarray(incident_mev, np.float32).reshape(-1)
    noise = np.random.default_rng(seed).standard_normal((len(energies), width), np.float32)
    started = time.perf_counter()
    exported = onnx_showers(session, energies, noise, batch_size)
    onnx_s = time.perf_counter() - started
    started = time.perf_counter()
    reference = torch_showers(model, energies, noise, batch_size)
    torch_s = time.perf_counter() - started
    cut = float(model.zero_suppression_mev)
    # a voxel within rounding of the zero-suppression cut is kept by one side and zeroed by
    # the other: those are counted apart, with their largest energy in units of the cut
    flipped = (exported > 0) != (reference > 0)
    kept = ~flipped
    result = {
        "showers": len(energies),
        "noise_width": width,
        "max_relative_difference": relative_difference(exported[kept], reference[kept], cut),
        "max_abs_difference_mev": float(np.abs(exported - reference)[kept].max(initial=0.0)),
        "voxels": int(exported.size),
        "voxels_zero_in_one_only": int(flipped.sum()),
        "flipped_max_over_cut": float(
            np.maximum(exported, reference)[flipped].max(initial=0.0) / cut
        ),
        "onnx_s": onnx_s,
        "torch_s": torch_s,
    }
    if float64_floor:
        exact = torch_showers(
            copy.deepcopy(model).double(), energies, noise, batch_size, torch.float64
        )
        both = (exact > 0) & (reference > 0)
        result["float32_vs_float64_max_relative_difference"] = relative_difference(
            reference[both], exact[both], cut
        )
        result["float32_vs_float64_voxels_zero_in_one_only"] = int(
            (~both).sum() - ((exact == 0) & (reference == 0)).sum()
        )
    return result
