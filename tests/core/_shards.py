"""Shard functions for tests/core/test_cluster.py (importable by Dask worker processes)."""

import os
from pathlib import Path

import numpy as np


def draw(seed: int, shard: int) -> np.ndarray:
    """A deterministic function of (seed, shard)."""
    return np.random.default_rng([seed, shard]).standard_normal(5)


def dies_once(marker_dir: str, seed: int, shard: int) -> np.ndarray:
    """Kills its worker process the first time it runs shard 2 (mid-shard: after starting)."""
    marker = Path(marker_dir) / f"shard{shard}.started"
    first_time = not marker.exists()
    marker.touch()
    with open(Path(marker_dir) / "runs.log", "a") as log:
        log.write(f"{shard}\n")
    if shard == 2 and first_time:
        os._exit(1)
    return draw(seed, shard)


def fails(shard: int):
    raise ValueError(f"shard {shard} is bad")
