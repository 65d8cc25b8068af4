"""A conditional generator as one ONNX graph: (conditions, noise) -> samples.

``sample`` draws its randomness inside the model; an exported graph cannot, so the graph takes
the noise as an input: a (batch, width) tensor of standard normals that the model's draws
consume column by column (models.noise.GivenNoise; a uniform draw is Phi of a normal column).
``width`` is measured by one counting pass of the sampler. Everything the model's
``_sample`` does - the flow, its preprocessing, a sampler loop of fixed steps, the cleaning
of the output - is traced into the graph, so the graph returns what ``sample`` returns.

The export uses torch's ``torch.export``-based ONNX exporter with its graph optimiser off:
the optimiser reorders arithmetic, and on the ratio representation of calorimeter showers
(small differences of layer energies) that moved voxel energies by up to 5e-4 relative,
against 6e-6 without it. The rational-quadratic splines export as they are: zuko finds a
value's bin by counting the knots below it (no ``aten::searchsorted``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from physgen import __version__
from physgen.core.atomic import atomic_path
from physgen.core.errors import PhysgenInputError
from physgen.models.base import ConditionalGenerator
from physgen.models.noise import GivenNoise

__all__ = [
    "SamplingGraph",
    "noise_width",
    "export_onnx",
    "load_onnx",
    "graph_metadata",
    "relative_difference",
]

OPSET = 18
MAX_BATCH = 1 << 24  # rows per call; a bound keeps the exporter's size checks in int64


class SamplingGraph(nn.Module):
    """``model._sample`` as a module of (conditions, noise)."""

    def __init__(self, model: ConditionalGenerator):
        super().__init__()
        self.model = model

    def forward(self, conditions: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return self.model._sample(conditions, GivenNoise(noise))


def noise_width(model: ConditionalGenerator, conditions: torch.Tensor) -> int:
    """Standard normals per row that ``model``'s sampler draws (one counting pass)."""
    with torch.no_grad():
        return GivenNoise.width_of(lambda noise: model._sample(conditions[:1], noise))


def export_onnx(
    module: nn.Module,
    example: tuple[torch.Tensor, ...],
    path,
    input_names: tuple[str, ...],
    output_name: str,
    metadata: dict | None = None,
) -> Path:
    """Write ``module`` traced on ``example`` (batch-first tensors, the batch dimension left
    dynamic) to ``path`` as one self-contained ONNX file with ``metadata`` in its properties."""
    import onnx

    path = Path(path)
    module = module.eval()
    batch = torch.export.Dim("batch", max=MAX_BATCH)
    names = list(module.forward.__code__.co_varnames[1 : 1 + len(example)])
    dynamic = {name: {0: batch} for name in names}
    with torch.no_grad(), atomic_path(path) as tmp:
        program = torch.onnx.export(
            module,
            example,
            dynamo=True,
            input_names=list(input_names),
            output_names=[output_name],
            dynamic_shapes=dynamic,
            optimize=False,
            opset_version=OPSET,
            external_data=False,
            verbose=False,
        )
        graph = program.model_proto
        properties = {"physgen_version": __version__, **(metadata or {})}
        for key, value in properties.items():
            entry = graph.metadata_props.add()
            entry.key = key
            entry.value = value if isinstance(value, str) else json.dumps(value)
        onnx.save_model(graph, tmp)
    return path


def load_onnx(path, threads: int | None = None):
    """An onnxruntime session of ``path`` (CPU), or a clear error."""
    try:
        import onnxruntime
    except ImportError:
        raise PhysgenInputError(
            "running an exported model needs onnxruntime: pip install 'physgen[onnx]'"
        ) from None
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own kinds for a damaged file
        raise PhysgenInputError(
            f"{path}: not a readable ONNX model ({type(err).__name__}: {err})"
        ) from None


def graph_metadata(session) -> dict:
    """The metadata properties physgen wrote, JSON values decoded."""
    result = {}
    for key, value in session.get_modelmeta().custom_metadata_map.items():
        try:
            result[key] = json.loads(value)
        except ValueError:
            result[key] = value
    return result


def relative_difference(a: np.ndarray, b: np.ndarray, floor: float) -> float:
    """max |a - b| / max(|b|, floor) over the elements: relative where values are above
    ``floor``, in units of ``floor`` below it."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size == 0:
        return 0.0
    return float((np.abs(a - b) / np.maximum(np.abs(b), floor)).max())
