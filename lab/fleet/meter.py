"""What a fleet drill is and what it measures: the plan (the fleet and its outage) and the
result (recovery times, load per site per second); the meter both the real and the
simulated storm measure with is :mod:`lab.fleet.stormmeter`."""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from endpoint.config import ConnectionConfig, ConnectionSettings, EndpointConfig
from lab.faults.kinds import FaultKind
from lab.net.wire import Wire

# a fleet's connections unless its drill says otherwise: renewals every 5 minutes, a
# transaction given up after 8 s (a storm's figures are about the return, not the timeout)
FLEET_SETTINGS = ConnectionSettings(reg_interval=300, retry_interval=30, transaction_timeout=8)


@dataclass(frozen=True)
class FleetPlan:
    """A fleet and its outage: what both the real and the simulated storm run."""

    endpoints: int
    sites: tuple[str, ...] = ("a", "b")
    outage_site: str = "a"
    outage_kind: FaultKind = FaultKind.KILL
    # every endpoint's connections (one per site): the endpoint's settings model
    settings: ConnectionSettings = field(default_factory=lambda: FLEET_SETTINGS)
    outage_at: float = 60
    outage_for: float = 120
    settle: float = 120  # how long after the return every endpoint may take
    duration: float | None = None  # keep running until then (else stop once all are back)
    boot: float = 1.0  # start-up spread
    seed: int = 0
    wire: Wire = "objects"  # in simulation: messages cross as objects (see lab.sim.network)


    def endpoint(
        self, i: int, local: tuple[str, int], sites: list[tuple[str, int, str]]
    ) -> EndpointConfig:
        """Endpoint ``i``'s configuration: sending from ``local``, one connection per site
        (``sites``: where each is reached, and its domain), each with the fleet's
        settings."""
        return EndpointConfig(
            local_host=local[0], local_port=local[1],
            connections=[
                ConnectionConfig.at(self.settings, id=c, user=str(100000 + i), server=server,
                                    port=port, domain=domain)
                for c, (server, port, domain) in enumerate(sites)
            ],
        )  # fmt: skip


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


async def booted(count: int, spread: float) -> AsyncIterator[int]:
    """0 … count-1, each when its turn comes in a start-up spread evenly over ``spread``
    seconds. Those whose turn has come go together: a sleep per endpoint would take at
    least a millisecond each and stretch the spread of a large fleet many times over."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(count):
        turn = start + spread * i / count
        if turn > loop.time():
            await asyncio.sleep(turn - loop.time())
        yield i
