"""A real fleet split over worker processes, for fleets one process cannot carry.

The lab (sites, proxies, the outage) stays in the calling process; each worker runs a
shard of the endpoints as a ``PhoneFleet`` and measures its part of the storm with the same
``StormMeter``. The workers learn when the site's return began through a shared value (set
before the heal, so no early answer is missed), report each recovery as it happens (so the
caller knows when the whole fleet is back) and their measurements at the end, which add up
to the fleet's. Clocks agree: asyncio's loop time is the system's monotonic clock in every
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import queue
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from endpoint.aio.fleet import PhoneFleet, collector_paused
from endpoint.config import EndpointConfig
from endpoint.sip.events import Address
from lab.errors import LabError
from lab.fleet.meter import FleetResult, booted
from lab.fleet.stormmeter import StormMeter

START_TIMEOUT = 60.0  # s for a worker to import, build its phones and bind its socket
REPORT_TIMEOUT = 30.0  # s for the workers to stop and send what they measured
EXIT_ORPHANED = 70  # a worker's exit code when its parent was gone


class Shards:
    """``workers`` processes, each running one share of ``configs``; the fleet's phones
    are numbered as in ``configs`` throughout."""

    def __init__(
        self,
        configs: list[EndpointConfig],
        workers: int,
        *,
        sites: dict[Address, str],
        watched: Address,
        t0: float,
        boot: float,
        seed: int,
    ) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.endpoints = len(configs)
        self.back_at: Any = ctx.RawValue("d", 0.0)
        # flags in shared memory without a lock: a worker killed mid-read (a SIGTERM to the
        # whole process group) must not leave a lock held that the caller then waits on forever
        self.stop = ctx.RawValue("b", 0)
        self.go = ctx.Event()
        self.reports: multiprocessing.Queue[Any] = ctx.Queue()
        self.recovered = 0
        rng = random.Random(seed)
        workers = max(1, min(workers, len(configs)))
        share = -(-len(configs) // workers)
        self.procs = [
            ctx.Process(
                target=_worker,
                name=f"geolab-fleet-{w}",
                args=(
                    ShardJob(
                        configs[w * share : (w + 1) * share],
                        w * share,
                        rng.random(),
                        sites,
                        watched,
                        t0,
                        boot,
                        self.back_at,
                        self.go,
                        self.stop,
                        self.reports,
                    ),
                ),
                daemon=True,
            )
            for w in range(workers)
            if configs[w * share : (w + 1) * share]
        ]
        self.results: list[dict[str, Any]] = []

    async def start(self) -> None:
        """Start the workers; return when every one has its phones built and socket bound,
        then let them register together."""
        for proc in self.procs:
            proc.start()
        ready = 0
        while ready < len(self.procs):
            try:
                kind, payload = await self._next(START_TIMEOUT)
            except TimeoutError:
                raise LabError(f"fleet workers not ready within {START_TIMEOUT:.0f}s") from None
            if kind == "error":
                raise LabError(f"fleet worker failed: {payload}")
            ready += kind == "ready"
        self.go.set()

    def returned(self, now: float) -> None:
        self.back_at.value = now

    async def wait_all_back(self, timeout: float) -> bool:
        """True once every endpoint has recovered; False when ``timeout`` ran out first."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while self.recovered < self.endpoints:
            left = end - loop.time()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                kind, payload = await self._next(min(left, 0.5))
                self._note(kind, payload)
        return True

    async def finish(self) -> list[dict[str, Any]]:
        """Stop the workers and collect what each measured."""
        self.stop.value = 1
        while len(self.results) < len(self.procs):
            try:
                kind, payload = await self._next(REPORT_TIMEOUT)
            except TimeoutError:
                raise LabError(
                    f"fleet workers sent no results within {REPORT_TIMEOUT:.0f}s"
                ) from None
            self._note(kind, payload)
        return self.results

    def kill(self) -> None:
        """End every worker still running (by PID, through its process handle)."""
        self.stop.value = 1
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def _note(self, kind: str, payload: Any) -> None:
        if kind == "recovered":
            self.recovered += payload
        elif kind == "result":
            self.results.append(payload)
        elif kind == "error":
            raise LabError(f"fleet worker failed: {payload}")

    async def _next(self, timeout: float) -> tuple[str, Any]:
        """The next report, within ``timeout``. Asked for in short slices, so no executor
        thread is left blocked when the caller is cancelled (a SIGTERM: asyncio waits for
        its executor's threads on the way out), and a worker that died is said at once."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            left = end - loop.time()
            if left <= 0:
                raise TimeoutError
            try:
                item: tuple[str, Any] = await loop.run_in_executor(
                    None, self.reports.get, True, min(left, 0.25)
                )
            except queue.Empty:
                dead = [p for p in self.procs if p.exitcode not in (None, 0)]
                if dead:
                    raise LabError(f"fleet worker {dead[0].name} exited (code "
                                   f"{dead[0].exitcode})") from None  # fmt: skip
                continue
            return item


@dataclass(frozen=True)
class ShardJob:
    """What one worker is given: its share of the fleet and the channels to the caller."""

    configs: list[EndpointConfig]
    first: int  # the fleet's number of the first phone of the share
    seed: float
    sites: dict[Address, str]
    watched: Address
    t0: float
    boot: float
    back_at: Any  # RawValue("d"): when the watched site returned (0: not yet)
    go: MpEvent
    stop: Any  # RawValue("b"): 1 once the caller says stop
    reports: multiprocessing.Queue[Any]


def _end_with_parent() -> None:
    """End this worker the moment its parent is gone, in every phase (booting, waiting for
    the go, registering, stopping): a thread waits on the parent's sentinel, a pipe whose
    other end only the parent holds, so the kernel closes it when the parent dies however
    it died. A parent that died before this ran is seen at once."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(EXIT_ORPHANED)

    threading.Thread(target=watch, name="geolab-fleet-parent", daemon=True).start()


def _worker(job: ShardJob) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides when workers end
    _end_with_parent()
    try:
        asyncio.run(_shard(job))
    except Exception as exc:  # reported, not raised: the caller turns it into a lab error
        job.reports.put(("error", f"{type(exc).__name__}: {exc}"))


def _until_stopped(stop: Any) -> None:
    """Until the caller says stop (a caller that is gone ends us: ``_end_with_parent``).
    The flag is polled: it is shared memory without a lock (see Shards)."""
    while not stop.value:
        time.sleep(0.2)


async def _shard(job: ShardJob) -> None:
    configs, first, reports, back_at = job.configs, job.first, job.reports, job.back_at
    loop = asyncio.get_running_loop()
    result = FleetResult(len(configs), load={s: Counter() for s in job.sites.values()})
    meter = StormMeter(result, job.sites, job.watched, job.t0)

    def tap(i: int, direction: str, message: Any, peer: Address) -> None:
        now = loop.time()
        if direction == "out":
            meter.sent(message, peer, now)
            return
        if meter.back_at is None and back_at.value:
            meter.returned(back_at.value)
        if meter.received(first + i, message, peer, now):
            reports.put(("recovered", 1))

    fleet = PhoneFleet(configs, rng=random.Random(job.seed), tap=tap)
    await fleet.open()
    try:
        fleet.prepare()
        with collector_paused():  # as a fleet in the runner's process (lab/real/fleet.py)
            reports.put(("ready", None))
            await loop.run_in_executor(None, job.go.wait)
            async for i in booted(len(configs), job.boot):
                fleet.start(i)
            await loop.run_in_executor(None, _until_stopped, job.stop)
    finally:
        await fleet.close()
    reports.put(
        (
            "result",
            {
                "recovery": result.recovery,
                "load": {site: dict(per_s) for site, per_s in result.load.items()},
            },
        )
    )
