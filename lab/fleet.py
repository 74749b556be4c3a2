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
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from endpoint.aio.fleet import PhoneFleet
from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address
from endpoint.sip.message import Message, Response
from lab.lab import Lab
from lab.sim.lab import SimLab
from lab.sim.network import SimSockets, Wire


@dataclass(frozen=True)
class FleetPlan:
    """A fleet and its outage: what both the real and the simulated storm run."""

    endpoints: int
    sites: tuple[str, ...] = ("a", "b")
    outage_site: str = "a"
    outage_kind: str = "kill"
    reg_interval: float = 300
    retry_interval: float = 30
    transaction_timeout: float = 8
    outage_at: float = 60
    outage_for: float = 120
    settle: float = 120  # how long after the return every endpoint may take
    duration: float | None = None  # keep running until then (else stop once all are back)
    boot: float = 1.0  # start-up spread
    seed: int = 0
    wire: Wire = "objects"  # in simulation: messages cross as objects (see lab.sim.network)


@dataclass
class FleetResult:
    endpoints: int
    outage_site: str = "a"
    recovery: list[float] = field(default_factory=list)  # s from the site's return to registered
    load: dict[str, Counter[int]] = field(default_factory=dict)  # site -> second -> REGISTERs
    unrecovered: int = 0
    back_at: float = 0.0  # when the site returned, s since the fleet started

    def percentile(self, q: float) -> float:
        ordered = sorted(self.recovery)
        return (
            ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
            if ordered
            else float("nan")
        )

    def bins(self, count: int = 10) -> list[tuple[float, float, int]]:
        """The recovery histogram: (from, to, endpoints) for ``count`` equal bins."""
        if not self.recovery:
            return []
        lo, hi = min(self.recovery), max(self.recovery)
        step = (hi - lo) / count or 1.0
        counts = Counter(min(count - 1, int((r - lo) / step)) for r in self.recovery)
        return [(lo + i * step, lo + (i + 1) * step, counts.get(i, 0)) for i in range(count)]

    def histogram(self, bins: int = 10, width: int = 40) -> list[str]:
        drawn = self.bins(bins)
        if not drawn:
            return ["(no recovery)"]
        top = max(n for _, _, n in drawn)
        return [f"{lo:9.3f}s {'#' * round(width * n / top):<{width}} {n}" for lo, _, n in drawn]

    def peak(self, site: str) -> int:
        return max(self.load.get(site, Counter()).values(), default=0)

    def summary(self) -> dict[str, Any]:
        return {
            "endpoints": self.endpoints,
            "unrecovered": self.unrecovered,
            "p50": self.percentile(0.5),
            "p90": self.percentile(0.9),
            "p99": self.percentile(0.99),
            "max": max(self.recovery, default=float("nan")),
            "mean": statistics.fmean(self.recovery) if self.recovery else float("nan"),
            "peak_register_per_s": {s: self.peak(s) for s in self.load},
        }

    def to_json(self) -> dict[str, Any]:
        """What the timeline keeps: summary, histogram and the load per second per site."""
        return {
            **self.summary(),
            "outage_site": self.outage_site,
            "back_at": round(self.back_at, 6),
            "histogram": [[round(lo, 6), round(hi, 6), n] for lo, hi, n in self.bins()],
            "load": {
                site: [[s, n] for s, n in sorted(per_s.items())]
                for site, per_s in self.load.items()
            },
        }


class StormMeter:
    """What a storm measures, from the REGISTERs phones send and the answers they get:
    REGISTERs per site per second, and for each phone the time from the site's return to
    its first 2xx from there (whether or not it had noticed the outage: one that had not is
    back only at its next renewal). Times are the caller's clock, counted from ``t0``."""

    def __init__(
        self, result: FleetResult, sites: dict[Address, str], watched: Address, t0: float = 0.0
    ) -> None:
        self.result = result
        self.sites = sites  # site address -> name
        self.watched = watched  # the address of the site that goes down
        self.t0 = t0
        self.back_at: float | None = None  # set when the site's return begins
        self.recovered: set[int] = set()

    def returned(self, now: float) -> None:
        self.back_at = now
        self.result.back_at = now - self.t0

    def sent(self, message: Message, peer: Address, now: float) -> None:
        if getattr(message, "method", None) == "REGISTER" and peer in self.sites:
            self.result.load[self.sites[peer]][int(now - self.t0)] += 1

    def received(self, phone: int, message: Message, peer: Address, now: float) -> bool:
        """Note an answer to ``phone``; True when it is that phone's recovery."""
        if (
            self.back_at is None
            or peer != self.watched
            or phone in self.recovered
            or not isinstance(message, Response)
            or not 200 <= message.status < 300
            or message.cseq.method != "REGISTER"
        ):
            return False
        self.recovered.add(phone)
        self.result.recovery.append(now - self.back_at)
        return True


async def run_fleet(
    lab: Lab | SimLab,
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
        for i in range(endpoints):
            if isinstance(fleet, PhoneFleet):
                fleet.start(i)
            else:
                await fleet.start(i)
            await asyncio.sleep(plan.boot / endpoints)
        await asyncio.sleep(max(0.0, plan.outage_at - (loop.time() - start)))
        record = await lab.apply(plan.outage_kind, outage_site)
        await asyncio.sleep(plan.outage_for)
        # the return starts when the heal does: a restarted site may answer before the lab
        # has seen it ready, and those answers count
        meter.returned(loop.time())
        await lab.heal(record)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_back.wait(), plan.settle)
        result.unrecovered = endpoints - len(meter.recovered)
        if plan.duration is not None:  # keep running (renewals go on) to the planned end
            await asyncio.sleep(max(0.0, plan.duration - (loop.time() - start)))
    finally:
        await fleet.close()
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
