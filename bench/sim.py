"""Simulation benchmark: a 24-hour drill of one two-connection endpoint (reg_interval
3600 s, OPTIONS keep-alive every 5 s on both connections, site A flapping every 10
minutes) on the simulated network in virtual time. Prints wall time, transactions,
messages, events per second and the speed-up over real time.

    python -m bench.sim      (or: geolab bench sim)
"""

from __future__ import annotations

import asyncio
import functools
import random
import time

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatusChanged
from lab.fleet import FleetResult, run_fleet
from lab.lab import LabConfig
from lab.sim.lab import SimLab
from lab.sim.loop import run
from lab.sim.network import SimSockets, Wire

DAY = 86400.0


async def day(seed: int, wire: Wire = "bytes") -> dict[str, float]:
    lab = SimLab(LabConfig(seed=seed), wire=wire)
    await lab.start()
    cfg = EndpointConfig(
        local_host=lab.host(),
        local_port=5060,
        connections=[
            ConnectionConfig(
                id=i,
                user="5001",
                server=lab.target(n)[0],
                port=lab.target(n)[1],
                reg_interval=3600,
                retry_interval=30,
                keepalive="options",
                keepalive_interval=5,
                keepalive_timeout=2,
            )
            for i, n in enumerate(("a", "b"))
        ],
    )
    transactions = 0

    def count(direction: str, message: object, peer: object, transport: str) -> None:
        nonlocal transactions
        if direction == "out" and getattr(message, "method", None) in ("REGISTER", "OPTIONS"):
            transactions += 1

    phone = AsyncPhone(
        cfg, sockets=functools.partial(SimSockets, lab.network), rng=random.Random(seed)
    )
    phone.taps.append(count)
    await phone.start()
    site_a_down = False
    loop = asyncio.get_running_loop()
    while loop.time() < DAY:
        await asyncio.sleep(600)  # every 10 minutes site A flaps: down, then up again
        record = await lab.apply("kill", "a") if not site_a_down else None
        site_a_down = record is not None
        if record is None:
            for r in lab.journal:
                if r.healed_at is None:
                    await lab.heal(r)
    await phone.close(unregister=False)
    await lab.stop()
    changes = sum(isinstance(e, ConnectionStatusChanged) for e in phone.history)
    return {
        "transactions": transactions,
        "messages": lab.network.sent,
        "changes": changes,
        "virtual": loop.time(),
    }


async def fleet(endpoints: int) -> FleetResult:
    lab = SimLab(LabConfig(seed=1), wire="objects")
    await lab.start()
    # reg_interval 300 s, site A down from minute 5 to minute 15, then the storm
    result = await run_fleet(
        lab,
        endpoints,
        reg_interval=300,
        retry_interval=30,
        outage_at=300,
        outage_for=600,
        settle=2700,
    )
    await lab.stop()
    return result


def main(endpoints: int = 1000) -> int:
    print("geolab bench sim")
    started = time.perf_counter()
    figures = run(day(seed=1))
    wall = time.perf_counter() - started
    print("  24 h drill, one endpoint, 2 connections, keep-alive 5 s, site A flapping every 10 min")
    print(
        f"  wall time {wall:.2f} s for {figures['virtual'] / 3600:.1f} h of virtual time "
        f"(speed-up x{figures['virtual'] / wall:,.0f}; target: under 1 s)"
    )
    print(
        f"  {figures['transactions']:,.0f} client transactions (REGISTER + OPTIONS), "
        f"{figures['messages']:,.0f} messages on the simulated wire "
        f"({figures['messages'] / wall:,.0f} messages/s), {figures['changes']:.0f} status changes"
    )
    started = time.perf_counter()
    result = run(fleet(endpoints))
    wall = time.perf_counter() - started
    summary = result.summary()
    print(
        f"  fleet: {endpoints:,} endpoints x 2 connections, reg_interval 300 s, site A down "
        f"10 min, 1 h virtual: wall {wall:.1f} s (target for 10,000: under 20 s)"
    )
    print(
        f"  recovery after site A returns: p50 {summary['p50']:.2f} s, p90 {summary['p90']:.2f} s, "
        f"p99 {summary['p99']:.2f} s, max {summary['max']:.2f} s, unrecovered {result.unrecovered}"
    )
    print(
        f"  peak REGISTER load per second: site a {result.peak('a'):,}, site b {result.peak('b'):,}"
    )
    for line in result.histogram():
        print(f"    {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
