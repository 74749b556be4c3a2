"""Fleet benchmark, real mode: N endpoints (one connection each) register at once on one
local Kamailio; their REGISTER rate next to SIPp's against the same Kamailio in the same
round, and the ratio's median over the rounds (goal: at least 0.8).

The fleet runs as ``PhoneFleet`` (each endpoint its own phone core, user, contact and
transactions; the endpoints of one process share a UDP socket, as SIPp's users share its
socket), in one process and split over worker processes. Each figure counts from the first
REGISTER to the last 200 OK, with endpoints built and sockets bound beforehand (SIPp's
figure is its own count, its start-up and exit likewise left out). Every side registers
users the registrar has not seen (SIPp's too: a prefix per round), so the registrar does
the same work for each: a new record per user, not an update of one it holds. For
comparison, one ``AsyncPhone`` per endpoint (its own sockets, one task per phone) is
measured too.

    python -m bench.fleet [--endpoints N] [--workers W] [--rounds R]
                                                            (or: geolab bench fleet)
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event as MpEvent

from bench.sip import IN_FLIGHT, bench_site, sipp_register_rate
from endpoint.aio.fleet import PhoneFleet, collector_paused
from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from lab.sites.kamailio import kamailio_binary

Target = tuple[str, int, str]  # site host, port, domain


def configs(target: Target, first_user: int, count: int) -> list[EndpointConfig]:
    host, port, domain = target
    return [
        EndpointConfig(
            connections=[
                ConnectionConfig(
                    id=0,
                    user=str(first_user + i),
                    server=host,
                    port=port,
                    domain=domain,
                    reg_interval=3600,
                )
            ]
        )
        for i in range(count)
    ]


def available(event: PhoneEvent) -> bool:
    return isinstance(event, ConnectionStatusChanged) and event.status is ConnectionStatus.AVAILABLE


async def register_fleet(
    target: Target,
    first_user: int,
    count: int,
    window: int,
    go: MpEvent | None = None,
    ready: Callable[[], None] = lambda: None,
) -> tuple[float, float]:
    """(first REGISTER, last 200 OK) as ``time.perf_counter()`` readings (one clock for
    every process of the machine), with at most ``window`` registrations under way at a
    time (SIPp's ``-l``); ``go``, when given, is awaited before the first."""
    done = asyncio.Event()
    registered = 0
    loop = asyncio.get_running_loop()

    def on_event(_: int, event: PhoneEvent) -> None:
        nonlocal registered
        if event.status is ConnectionStatus.AVAILABLE:  # (a fleet's phones make no calls)
            registered += 1
            if registered + window <= count:  # one done: the next one starts
                loop.call_soon(fleet.start, registered + window - 1)
            if registered == count:
                done.set()

    async with PhoneFleet(configs(target, first_user, count), on_event=on_event) as fleet:
        fleet.prepare()
        with collector_paused():  # as a fleet drill boots its phones
            if go is not None:
                ready()
                await loop.run_in_executor(None, go.wait)
            start = time.perf_counter()
            for i in range(min(window, count)):
                fleet.start(i)
            await asyncio.wait_for(done.wait(), 120)
            return start, time.perf_counter()


def _worker(
    target: Target, first_user: int, count: int, window: int, go: MpEvent, out: object
) -> None:
    ready = functools.partial(out.put, "ready")  # type: ignore[attr-defined]
    result = asyncio.run(register_fleet(target, first_user, count, window, go, ready))
    out.put(result)  # type: ignore[attr-defined]


async def fleet_rate(
    target: Target, endpoints: int, first_user: int, workers: int = 1, window: int = 0
) -> float:
    """Registrations per second of ``endpoints`` registering over ``workers`` processes
    started together (1: this process): all at once, or with at most ``window`` under way
    at a time in all (SIPp's ``-l``)."""
    share = window // workers if window else endpoints
    if workers == 1:
        start, end = await register_fleet(target, first_user, endpoints, share)
        return endpoints / (end - start)
    return await asyncio.get_running_loop().run_in_executor(
        None, _workers_rate, target, endpoints, first_user, workers, share
    )


def _workers_rate(
    target: Target, endpoints: int, first_user: int, workers: int, window: int
) -> float:
    ctx = multiprocessing.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    share = -(-endpoints // workers)
    procs = [
        ctx.Process(
            target=_worker,
            args=(
                target,
                first_user + w * share,
                min(share, endpoints - w * share),
                window,
                go,
                out,
            ),
            daemon=True,
        )
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:  # each is ready with its endpoints built and its socket bound
            assert out.get(timeout=180) == "ready"
        go.set()
        spans = [out.get(timeout=180) for _ in procs]
    finally:
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return float(endpoints / (max(e for _, e in spans) - min(s for s, _ in spans)))


async def phones_rate(target: Target, endpoints: int, first_user: int) -> float:
    """The same with one AsyncPhone per endpoint (own sockets), sockets bound beforehand."""
    phones = [AsyncPhone(cfg) for cfg in configs(target, first_user, endpoints)]
    done = asyncio.Event()
    registered = 0

    def on_event(event: PhoneEvent) -> None:
        nonlocal registered
        if available(event):
            registered += 1
            if registered == endpoints:
                done.set()

    for phone in phones:
        phone.subscribe(on_event)
    try:
        for phone in phones:
            await phone.open()
        start = time.perf_counter()
        await asyncio.gather(*(phone.start() for phone in phones))
        await asyncio.wait_for(done.wait(), 120)
        return endpoints / (time.perf_counter() - start)
    finally:
        for phone in phones:
            await phone.close(unregister=False)


async def bench(endpoints: int, workers: int, rounds: int = 5) -> None:
    print(f"geolab bench fleet ({endpoints} endpoints, real sockets, one local Kamailio)")
    if kamailio_binary() is None:
        print("  kamailio not installed: nothing to measure")
        return
    async with bench_site("fleet", shm_mb=256) as site:
        target = (site.spec.ip, site.spec.port, site.spec.domain)
        users = iter(range(200000, 10**9, 100000))  # fresh users for every run
        few = min(endpoints, 2000)  # one AsyncPhone has two sockets: the open-files limit
        # rounds each measuring every side in turn (the registrar's tables grow alike for
        # all); the ratio is the fleet's to SIPp's in the same round, and its median over
        # the rounds is the figure (one lost datagram costs a 500 ms retransmission, and a
        # rate measured over a fraction of a second is then a third of itself)
        rates: dict[str, list[float]] = {k: [] for k in ("sipp", "phones", "one", "many", "paced")}
        for _ in range(rounds):
            # fresh users on every side: each registers users the registrar has not seen
            sipp = await sipp_register_rate(site, max(endpoints, 5000), f"s{next(users)}-")
            if sipp is not None:
                rates["sipp"].append(sipp)
            rates["phones"].append(await phones_rate(target, few, next(users)))
            rates["one"].append(await fleet_rate(target, endpoints, next(users)))
            rates["many"].append(await fleet_rate(target, endpoints, next(users), workers))
            rates["paced"].append(
                await fleet_rate(target, endpoints, next(users), workers, IN_FLIGHT)
            )
    if os.environ.get("GEOLAB_BENCH_ALL"):
        print({k: [round(r) for r in v] for k, v in rates.items()})
    row = "  {:<34}{:>9,.0f} registrations/s median, {:>9,.0f} best ({})"

    def show(label: str, key: str, how: str) -> None:
        print(row.format(label, statistics.median(rates[key]), max(rates[key]), how))

    show(f"AsyncPhone per endpoint ({few})", "phones", "own sockets")
    show("fleet, one process", "one", "all at once")
    show(f"fleet, {workers} processes", "many", "all at once")
    show(f"fleet, {workers} processes", "paced", f"{IN_FLIGHT} under way, as SIPp")
    if not rates["sipp"]:
        print("  sipp not installed: no comparison")
        return
    show("SIPp", "sipp", f"{IN_FLIGHT} under way, 4 MB socket buffers")
    sides = zip(rates["one"], rates["many"], rates["sipp"], strict=True)
    ratios = [max(one, many) / sipp for one, many, sipp in sides]
    paced = [p / sipp for p, sipp in zip(rates["paced"], rates["sipp"], strict=True)]
    print(
        f"  ratio fleet/SIPp                  {statistics.median(ratios):>9.2f}"
        f"  (median of the rounds: {', '.join(f'{r:.2f}' for r in ratios)};"
        " all at once; goal: at least 0.8)"
    )
    print(f"  ratio fleet/SIPp, paced alike     {statistics.median(paced):>9.2f}")
    print(f"  ({rounds} rounds, the sides measured in turn in each)")


def main(endpoints: int = 5000, workers: int = 2, rounds: int = 5) -> int:
    asyncio.run(bench(endpoints, workers, rounds))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    raise SystemExit(main(args.endpoints, args.workers, args.rounds))
