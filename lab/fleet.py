"""A fleet of endpoints on one lab: a registration storm when a site comes back.

Every endpoint has one connection per site. One site goes down for a while (killed, hung or
cut off); when it returns, every endpoint registers there again. The result: the
distribution of the times from the site's return to each endpoint's registration there, and the
REGISTER load each site saw per second. Runs on real sites (a ``PhoneFleet``: every
endpoint its own phone core, all on one UDP socket) or in simulation (virtual time)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from endpoint.aio.fleet import PhoneFleet
from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.fleetmeter import FleetPlan, FleetResult, StormMeter, booted
from lab.fleetshards import Shards
from lab.lab import Lab
from lab.sim.lab import SimLab
from lab.sim.network import SimSockets


async def run_fleet(
    lab: Lab | SimLab,
    plan: FleetPlan,
    *,
    t0: float | None = None,
    on_phone: Callable[[int, PhoneEvent], None] | None = None,
    workers: int = 1,
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
    configs = [
        EndpointConfig(
            local_host=lab.host() if isinstance(lab, SimLab) else "127.0.0.1",
            local_port=5060 if isinstance(lab, SimLab) else 0,
            connections=[
                ConnectionConfig(
                    id=c,
                    user=str(100000 + i),
                    server=lab.target(n)[0],
                    port=lab.target(n)[1],
                    domain=lab.site(n).spec.domain,
                    reg_interval=plan.reg_interval,
                    retry_interval=plan.retry_interval,
                    transaction_timeout=plan.transaction_timeout,
                )
                for c, n in enumerate(sites)
            ],
        )
        for i in range(endpoints)
    ]
    if workers > 1 and isinstance(lab, Lab):
        shards = Shards(
            configs,
            workers,
            sites=meter.sites,
            watched=meter.watched,
            t0=t0,
            boot=plan.boot,
            seed=rng.getrandbits(32),
        )
        return await _run_shards(lab, plan, shards, meter)
    fleet = (
        SimFleet(configs, lab, rng, tap, on_phone)
        if isinstance(lab, SimLab)
        else PhoneFleet(configs, rng=random.Random(rng.random()), on_event=on_phone, tap=tap)
    )
    start = loop.time()
    await fleet.open()
    try:
        if isinstance(fleet, PhoneFleet):
            fleet.prepare()
        async for i in booted(endpoints, plan.boot):
            if isinstance(fleet, PhoneFleet):
                fleet.start(i)
            else:
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
    lab: Lab | SimLab,
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


async def _run_shards(lab: Lab, plan: FleetPlan, shards: Shards, meter: StormMeter) -> FleetResult:
    """The plan on a fleet split over worker processes (see :mod:`lab.fleetshards`)."""
    loop, result = asyncio.get_running_loop(), meter.result

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


class SimFleet:
    """The fleet on the asyncio simulator: one AsyncPhone per endpoint on SimSockets (the
    simulated network has no open-files limit, and each phone keeps its own address)."""

    def __init__(
        self,
        configs: list[EndpointConfig],
        lab: SimLab,
        rng: random.Random,
        tap: Callable[..., None],
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> None:
        self.phones: list[AsyncPhone] = []
        for i, cfg in enumerate(configs):
            phone = AsyncPhone(
                cfg,
                sockets=functools.partial(SimSockets, lab.network),
                rng=random.Random(rng.random()),
            )
            if on_phone is not None:
                phone.subscribe(functools.partial(on_phone, i))
            phone.taps.append(functools.partial(tap, i))
            self.phones.append(phone)

    async def open(self) -> SimFleet:
        return self

    async def start(self, index: int) -> None:
        await self.phones[index].start()

    async def close(self) -> None:
        for phone in self.phones:
            await phone.close(unregister=False)
