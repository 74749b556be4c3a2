"""The lab in simulation: sites on a simulated network, the same faults (process faults on
the sites, network faults on their paths), the same events and journal as the real lab."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.lab import PROCESS_FAULTS, FaultRecord, FaultScope, LabConfig, LabEvent
from lab.sim.network import Link, SimNetwork, Wire
from lab.sim.site import SimSite, site_specs

SIM_FAULTS = ("kill", "hang", "stop", "restart", "down", "partition", "latency", "loss")


class SimLab(FaultScope):
    backend = "sim"

    def __init__(self, config: LabConfig, *, wire: Wire = "bytes") -> None:
        self.config = config
        self.network = SimNetwork(config.seed, wire)
        self.network.default = Link(latency=0.001, jitter=0.0005)  # the seed decides timings
        self.id = f"sim-{config.seed}"
        self.workdir = config.workdir or Path(tempfile.mkdtemp(prefix="geolab-sim-"))
        self.sites: dict[str, SimSite] = {}
        self.journal: list[FaultRecord] = []
        self.events: list[LabEvent] = []
        self.listeners: list[Callable[[LabEvent], None]] = []
        self._numbers = itertools.count(1)
        self._hosts = itertools.count(1)

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def host(self) -> str:
        """A fresh address on the simulated network (for phones and parties)."""
        n = next(self._hosts)
        return f"10.200.{n // 250}.{n % 250 + 1}"

    async def start(self) -> SimLab:
        specs = site_specs(tuple(self.config.sites), self.config.password)
        for name, spec in specs.items():
            self.sites[name] = SimSite(spec, self.network)
            await self.sites[name].start()
            self.emit("site_up", site=name)
        self.emit("lab_up", backend="sim", sites=list(self.sites))
        return self

    async def stop(self) -> None:
        for site in self.sites.values():
            await site.kill()
        self.emit("lab_down")

    def site(self, name: str) -> SimSite:
        try:
            return self.sites[name]
        except KeyError:
            raise LabError(f"no site {name!r}; sites: {', '.join(self.sites)}") from None

    def target(self, name: str) -> tuple[str, int]:
        return self.site(name).address

    async def apply(
        self, kind: str, site: str, *, via: str | None = None, **params: Any
    ) -> FaultRecord:
        if kind not in SIM_FAULTS:
            raise LabError(
                f"fault {kind!r} is not simulated; simulated faults: {', '.join(SIM_FAULTS)}"
            )
        target = self.site(site)
        ip = target.spec.ip
        record = FaultRecord(
            next(self._numbers),
            kind,
            site,
            dict(params),
            via or ("process" if kind in PROCESS_FAULTS else "network"),
            self.now,
        )
        if kind in ("kill", "stop", "hang", "down", "partition"):
            target.take_out(kind)
            if kind in ("kill", "stop"):
                self.emit("site_down", site=site)
        elif kind == "restart":
            await target.restart()
            record.healed_at = self.now
        elif kind == "latency":
            self.network.degraded[ip] = Link(
                latency=float(params.get("latency", 0)) / 1000,
                jitter=float(params.get("jitter", 0)) / 1000,
            )
        elif kind == "loss":
            self.network.degraded[ip] = Link(loss=float(params.get("percent", 0)) / 100)
        return self._applied(record)

    async def heal(self, record: FaultRecord) -> None:
        if record.healed_at is not None:
            return
        site = self.site(record.site)
        if record.kind in ("kill", "stop", "hang", "down", "partition"):
            site.bring_back(record.kind)
            if record.kind in ("kill", "stop"):
                self.emit("site_up", site=record.site)
        else:
            self.network.degraded.pop(site.spec.ip, None)
        self._healed(record)
