"""``physgen emulate observe``: one simulator call as an observation for ``emulate fit``."""

from __future__ import annotations

import numpy as np

from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.core.outputs import check_output
from physgen.emulate.simulator import Simulator

__all__ = ["observe", "parse_point"]


def parse_point(text: str, simulator: Simulator) -> np.ndarray:
    try:
        point = np.array([float(v) for v in str(text).split(",")])
    except ValueError:
        raise PhysgenInputError(
            f"--parameters {text!r}: write numbers separated by commas"
        ) from None
    return simulator.check_points(point)[0]


def observe(simulator: Simulator, parameters: str, seed: int, out, overwrite=False) -> dict:
    """Simulate at ``parameters`` with ``seed`` (not a cache seed: an independent sample) and
    write summary, covariance and truth as JSON."""
    out = check_output(out, overwrite)
    point = parse_point(parameters, simulator)
    summary, covariance = simulator.run(point, seed)
    record = {
        **simulator.describe(),
        "seed": seed,
        "parameter_names": list(simulator.parameter_names),
        "parameters": point.tolist(),
        "summary_names": list(simulator.summary_names),
        "summary": np.asarray(summary).tolist(),
        "covariance": np.asarray(covariance).tolist(),
    }
    write_json_atomic(out, record)
    return record
