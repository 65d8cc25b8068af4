"""Simulation shards on a Dask LocalCluster: order, identity with a serial run, a killed
worker's shard retried once and written once, errors, a scheduler address."""

import numpy as np
import pytest

pytest.importorskip("distributed")

from _shards import dies_once, draw, fails  # noqa: E402

from physgen.core.cluster import run_shards  # noqa: E402
from physgen.core.errors import PhysgenInputError  # noqa: E402


def serial(seed, n):
    return [draw(seed, k) for k in range(n)]


def test_sharded_results_come_in_order_and_equal_a_serial_run():
    results = list(run_shards(draw, [(7, k) for k in range(9)], jobs=2, window=3))
    assert len(results) == 9
    for got, expected in zip(results, serial(7, 9), strict=True):
        assert np.array_equal(got, expected)


def test_a_worker_killed_mid_shard_is_retried_and_written_once(tmp_path):
    shards = [(str(tmp_path), 3, k) for k in range(5)]
    results = list(run_shards(dies_once, shards, jobs=2))
    assert len(results) == 5
    for got, expected in zip(results, serial(3, 5), strict=True):
        assert np.array_equal(got, expected)
    runs = (tmp_path / "runs.log").read_text().split()
    assert runs.count("2") == 2  # started, killed, run again on a fresh worker


def test_an_error_inside_a_shard_reaches_the_caller():
    with pytest.raises(ValueError, match="shard 0 is bad"):
        list(run_shards(fails, [(k,) for k in range(3)], jobs=1))


def test_a_scheduler_address_runs_the_same_shards():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        results = list(
            run_shards(draw, [(5, k) for k in range(4)], scheduler=cluster.scheduler_address)
        )
    for got, expected in zip(results, serial(5, 4), strict=True):
        assert np.array_equal(got, expected)
    with pytest.raises(PhysgenInputError, match="no Dask scheduler"):
        list(run_shards(draw, [(5, 0)], scheduler="tcp://127.0.0.1:1"))
