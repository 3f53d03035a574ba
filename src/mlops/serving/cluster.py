"""A Dask client for a given scheduler, or for a local cluster started (and stopped) here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def client(scheduler: str | None, local_workers: int) -> Iterator[Any]:
    """Connect to ``scheduler``, or run ``local_workers`` single-threaded local workers."""
    from dask.distributed import Client, LocalCluster  # only work on a cluster needs Dask

    cluster = (
        None
        if scheduler
        else LocalCluster(
            n_workers=local_workers,
            threads_per_worker=1,
            dashboard_address=None,
            env={"OMP_NUM_THREADS": "1"},
        )
    )
    try:
        with Client(scheduler or cluster) as connected:
            yield connected
    finally:
        if cluster is not None:
            cluster.close()


def where(scheduler: str | None, local_workers: int) -> str:
    """How a result names where it was computed."""
    if scheduler:
        return scheduler
    return f"local cluster of {local_workers}" if local_workers else "pandas"
