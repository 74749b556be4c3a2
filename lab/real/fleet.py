"""A fleet of endpoints on a lab: a registration storm when a site comes back.

Every endpoint has one connection per site. One site goes down for a while (killed, hung or
cut off); when it returns, every endpoint registers there again. The result: the
distribution of the times from the site's return to each endpoint's registration there, and the
REGISTER load each site saw per second. Runs on real sites (a ``PhoneFleet``: every
endpoint its own phone core, all on one UDP socket) or in simulation (virtual time)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from endpoint.aio.fleet import PhoneFleet, collector_paused
from endpoint.config import EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.fleet.meter import FleetPlan, FleetResult, booted
from lab.fleet.stormmeter import StormMeter
from lab.labs.interface import LabInterface, Tap
from lab.real.shards import Shards


class OneSocketFleet:
    """A :class:`PhoneFleet` (every endpoint its own phone core, all on one UDP socket)
    as the lab interface's fleet runner."""

    def __init__(
        self,
        configs: list[EndpointConfig],
        rng: random.Random,
        tap: Tap,
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> None:
        self.fleet = PhoneFleet(configs, rng=random.Random(rng.random()), on_event=on_phone,
                                tap=tap)  # fmt: skip

    async def open(self) -> OneSocketFleet:
        await self.fleet.open()
        self.fleet.prepare()
        return self

    async def start(self, index: int) -> None:
        self.fleet.start(index)

    async def close(self) -> None:
        await self.fleet.close()


def fleet_configs(lab: LabInterface, plan: FleetPlan) -> list[EndpointConfig]:
    """One endpoint configuration per endpoint of the plan, a connection per site."""
    sites = [(*lab.target(n), lab.site(n).spec.domain) for n in plan.sites]
    configs = []
    for i in range(plan.endpoints):
        where = lab.endpoint_address()  # (a simulated lab gives each endpoint its own)
        configs.append(plan.endpoint(i, where or ("127.0.0.1", 0), sites))
    return configs


async def run_fleet(
    lab: LabInterface,
    plan: FleetPlan,
    *,
    t0: float | None = None,
    on_phone: Callable[[int, PhoneEvent], None] | None = None,
) -> FleetResult:
    """Start the plan's phones (spread over ``boot`` seconds, as real phones boot), take
    ``outage_site`` down at ``outage_at`` for ``outage_for``, then wait up to ``settle`` for
    every phone to be registered there again (and on to ``duration``). Event times and the
    load's seconds count from ``t0`` (default: now)."""
    endpoints, sites, outage_site = plan.endpoints, plan.sites, plan.outage_site
    loop = asyncio.get_running_loop()
    result = FleetResult(endpoints, outage_site, load={s: Counter() for s in sites})
    t0 = loop.time() if t0 is None else t0  # the origin of back_at and of the load's seconds
    meter = StormMeter(result, {lab.target(s): s for s in sites}, lab.target(outage_site), t0)
    all_back = asyncio.Event()

    def tap(i: int, direction: str, message: Any, peer: Any, *_: object) -> None:
        if direction == "out":
            meter.sent(message, peer, loop.time())
        elif meter.received(i, message, peer, loop.time()) and len(meter.recovered) == endpoints:
            all_back.set()

    rng = random.Random(plan.seed)
    fleet = lab.phone_fleet(fleet_configs(lab, plan), rng, tap, on_phone)
    start = loop.time()
    await fleet.open()
    try:
        # the phones built, the collector paused for the drill: no collector pass walks
        # the fleet in the middle of a storm (a registration leaves no cyclic garbage)
        with collector_paused():
            async for i in booted(endpoints, plan.boot):
                await fleet.start(i)

            async def all_back_within(timeout: float) -> None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(all_back.wait(), timeout)

            await _outage(lab, plan, start, meter.returned, all_back_within)
            result.unrecovered = endpoints - len(meter.recovered)
            await _until_the_end(plan, start)
    finally:
        await fleet.close()
    return result


async def _outage(
    lab: LabInterface,
    plan: FleetPlan,
    start: float,
    returned: Callable[[float], None],
    all_back_within: Callable[[float], Awaitable[object]],
) -> None:
    """The plan's outage, ``start`` being when the fleet began, then up to ``settle`` for
    the fleet to be back. The return starts when the heal does (``returned`` is told
    first): a restarted site may answer before the lab has seen it ready, and those
    answers count."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(max(0.0, plan.outage_at - (loop.time() - start)))
    record = await lab.apply(plan.outage_kind, plan.outage_site)
    await asyncio.sleep(plan.outage_for)
    returned(loop.time())
    await lab.heal(record)
    await all_back_within(plan.settle)


async def _until_the_end(plan: FleetPlan, start: float) -> None:
    """Keep running (renewals go on) to the plan's ``duration``, if it has one."""
    if plan.duration is not None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, plan.duration - (loop.time() - start)))


async def run_sharded(
    lab: LabInterface, plan: FleetPlan, *, t0: float | None = None, workers: int = 2
) -> FleetResult:
    """The plan on a real fleet split over ``workers`` processes (see
    :mod:`lab.real.shards`); the lab's own sites and outage stay here."""
    loop = asyncio.get_running_loop()
    result = FleetResult(plan.endpoints, plan.outage_site,
                         load={s: Counter() for s in plan.sites})  # fmt: skip
    t0 = loop.time() if t0 is None else t0
    meter = StormMeter(result, {lab.target(s): s for s in plan.sites},
                       lab.target(plan.outage_site), t0)  # fmt: skip
    rng = random.Random(plan.seed)
    shards = Shards(
        fleet_configs(lab, plan), workers, sites=meter.sites, watched=meter.watched, t0=t0,
        boot=plan.boot, seed=rng.getrandbits(32),
    )  # fmt: skip

    def returned(now: float) -> None:  # the workers measure from the same instant
        shards.returned(now)
        meter.returned(now)

    try:
        await shards.start()
        start = loop.time()
        await _outage(lab, plan, start, returned, shards.wait_all_back)
        await _until_the_end(plan, start)
        for part in await shards.finish():
            result.recovery.extend(part["recovery"])
            for site, per_s in part["load"].items():
                result.load[site].update({int(s): n for s, n in per_s.items()})
    finally:
        shards.kill()
    result.unrecovered = result.endpoints - len(result.recovery)
    return result
