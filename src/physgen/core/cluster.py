"""Simulation shards on a Dask cluster, results in shard order.

A simulate command cuts its work into shards whose output depends only on (seed, shard),
hands them to Dask distributed - a ``LocalCluster`` of ``jobs`` worker processes by default,
or the scheduler at ``scheduler`` (a cluster the user started: ``dask-jobqueue`` on SLURM,
``dask scheduler`` + ``dask worker`` by hand) - and writes the results itself, in shard
order, each exactly once. A worker that dies mid-shard (killed, out of memory, a lost node)
takes its shard with it; the scheduler gives the shard to another worker, up to
``allowed_failures`` times, and since a shard's output is a pure function of its arguments
the retried shard is the same. An exception raised by the shard itself is not retried: it
reaches the caller.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from physgen.core.errors import PhysgenInputError

__all__ = ["run_shards", "ALLOWED_FAILURES"]

ALLOWED_FAILURES = 3  # lost workers a shard survives
SCHEDULER_TIMEOUT_S = 10


def _client(jobs: int, scheduler: str | None):
    """(client, cluster or None)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise PhysgenInputError(
            "parallel simulation runs on Dask: pip install 'physgen[cluster]'"
        ) from None
    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
    if scheduler is not None:
        try:
            return Client(scheduler, timeout=SCHEDULER_TIMEOUT_S), None
        except OSError as err:
            raise PhysgenInputError(
                f"--scheduler {scheduler}: no Dask scheduler answers there ({err})"
            ) from None
    cluster = LocalCluster(
        n_workers=jobs,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    return Client(cluster), cluster


def run_shards(
    function: Callable,
    shards: Iterable[tuple],
    jobs: int = 1,
    scheduler: str | None = None,
    window: int | None = None,
) -> Iterator:
    """``function(*shard)`` for every shard on a Dask cluster, yielded in shard order.

    At most ``window`` shards (default: twice the workers) are in flight, so an open-ended
    sequence of shards can be stopped: closing the generator cancels what is pending and shuts
    a local cluster down. ``function`` must be importable by the workers (a module-level
    function); its arguments and result are pickled."""
    from distributed import KilledWorker

    client, cluster = _client(jobs, scheduler)
    pending: deque = deque()
    try:
        workers = max(len(client.scheduler_info().get("workers", {})), jobs, 1)
        limit = window or 2 * workers
        todo = iter(shards)
        exhausted = False
        while True:
            while not exhausted and len(pending) < limit:
                shard = next(todo, None)
                if shard is None:
                    exhausted = True
                    break
                pending.append(client.submit(function, *shard, pure=False))
            if not pending:
                return
            future = pending.popleft()
            try:
                yield future.result()
            except KilledWorker as err:
                raise PhysgenInputError(
                    f"a shard lost its worker {ALLOWED_FAILURES + 1} times ({err}); the finished "
                    "shards are kept, run again with --resume"
                ) from None
    finally:
        for future in pending:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
