"""Where a simulated storm's shards run: in this process, in local worker processes, or on
a Dask distributed cluster (``tcp://HOST:PORT`` names its scheduler). One interface, a
``concurrent.futures.Executor``: shards are independent and each draws its randomness from
the seed and its index, so the storm is the same on every executor."""

from __future__ import annotations

import concurrent.futures
import contextlib
import multiprocessing
from collections.abc import Iterator
from typing import Any

from lab.errors import LabError
from lab.system.net import check_cluster

CONNECT_TIMEOUT = 10.0  # s to reach the scheduler


@contextlib.contextmanager
def shard_executor(
    workers: int, cluster: str | None = None, *, tasks: int = 2
) -> Iterator[concurrent.futures.Executor | None]:
    """An executor for ``tasks`` shards: the Dask cluster's when ``cluster`` is given,
    else ``workers`` local processes (spawned: nothing of the parent's state leaks in), or
    None where one process will do (run them inline)."""
    if cluster is not None:
        with _dask(check_cluster(cluster)) as executor:
            yield executor
        return
    if workers <= 1 or tasks <= 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(workers, tasks), mp_context=context) as pool:
        yield pool


@contextlib.contextmanager
def _dask(address: str) -> Iterator[concurrent.futures.Executor]:
    try:
        from distributed import Client  # noqa: PLC0415 (only a cluster run needs Dask)
    except ImportError:
        raise LabError(
            f"--cluster {address} needs Dask's distributed scheduler client",
            hint="pip install distributed",
        ) from None
    try:
        client: Any = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise LabError(f"no Dask scheduler answers at {address}: {exc}") from None
    try:
        executor: concurrent.futures.Executor = client.get_executor(pure=False)
        yield executor
    finally:
        client.close()
