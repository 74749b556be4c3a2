"""A fleet of endpoints on one lab: a registration storm when a site comes back.

Every endpoint has two connections (sites a and b). Site a goes down for a while; when it
returns, every endpoint re-registers there. The result: the distribution of the times from
the site's return to each endpoint's Available, and the REGISTER load each site saw per
second. Runs on real sites (sockets) or in simulation (virtual time)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from lab.lab import Lab
from lab.sim.lab import SimLab
from lab.sim.network import SimSockets


@dataclass
class FleetResult:
    endpoints: int
    recovery: list[float] = field(default_factory=list)  # s from the site's return to Available
    load: dict[str, Counter[int]] = field(default_factory=dict)  # site -> second -> REGISTERs
    unrecovered: int = 0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.recovery)
        return (
            ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
            if ordered
            else float("nan")
        )

    def histogram(self, bins: int = 10, width: int = 40) -> list[str]:
        if not self.recovery:
            return ["(no recovery)"]
        lo, hi = min(self.recovery), max(self.recovery)
        step = (hi - lo) / bins or 1.0
        counts = Counter(min(bins - 1, int((r - lo) / step)) for r in self.recovery)
        top = max(counts.values())
        return [
            f"{lo + i * step:9.3f}s {'#' * round(width * counts.get(i, 0) / top):<{width}} "
            f"{counts.get(i, 0)}"
            for i in range(bins)
        ]

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


async def run_fleet(
    lab: Lab | SimLab,
    endpoints: int,
    *,
    reg_interval: float = 300,
    retry_interval: float = 30,
    transaction_timeout: float = 8,
    outage_at: float = 60,
    outage_for: float = 120,
    settle: float = 120,
    seed: int = 0,
) -> FleetResult:
    loop = asyncio.get_running_loop()
    result = FleetResult(endpoints, load={"a": Counter(), "b": Counter()})
    t0 = loop.time()
    back_at: float | None = None
    recovered: set[int] = set()
    all_back = asyncio.Event()

    def on_event(i: int, event: PhoneEvent) -> None:
        if (
            isinstance(event, ConnectionStatusChanged)
            and event.connection == 0
            and event.status is ConnectionStatus.AVAILABLE
            and back_at is not None
            and i not in recovered
        ):
            recovered.add(i)
            result.recovery.append(event.t - back_at)
            if len(recovered) == endpoints:
                all_back.set()

    def tap(direction: str, message: Any, peer: Any, transport: str) -> None:
        if direction == "out" and getattr(message, "method", None) == "REGISTER":
            site = "a" if peer == lab.target("a") else "b"
            result.load[site][int(loop.time() - t0)] += 1

    phones = []
    rng = random.Random(seed)
    for i in range(endpoints):
        conns = [
            ConnectionConfig(
                id=c,
                user=str(100000 + i),
                server=lab.target(n)[0],
                port=lab.target(n)[1],
                domain=lab.site(n).spec.domain,
                reg_interval=reg_interval,
                retry_interval=retry_interval,
                transaction_timeout=transaction_timeout,
            )
            for c, n in enumerate(("a", "b"))
        ]
        if isinstance(lab, SimLab):
            cfg = EndpointConfig(local_host=lab.host(), local_port=5060, connections=conns)
            phone = AsyncPhone(
                cfg,
                sockets=functools.partial(SimSockets, lab.network),
                rng=random.Random(rng.random()),
            )
        else:
            phone = AsyncPhone(EndpointConfig(connections=conns), rng=random.Random(rng.random()))
        phone.subscribe(functools.partial(on_event, i))
        phone.taps.append(tap)
        phones.append(phone)
    # start-up spread over one second, as real phones boot
    for phone in phones:
        await phone.start()
        await asyncio.sleep(1.0 / endpoints)
    await asyncio.sleep(max(0.0, outage_at - (loop.time() - t0)))
    record = await lab.apply("kill", "a")
    await asyncio.sleep(outage_for)
    await lab.heal(record)
    back_at = loop.time()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_back.wait(), settle)
    result.unrecovered = endpoints - len(recovered)
    for phone in phones:
        await phone.close(unregister=False)
    return result
