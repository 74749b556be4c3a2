"""The lab in simulation: sites on a simulated network, the same faults (process faults on
the sites, network faults on their paths), the same events and journal as the real lab."""

from __future__ import annotations

import asyncio
import functools
import itertools
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from endpoint.config import PROTOCOLS, EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address
from lab.dns.service import LabDns
from lab.errors import LabError
from lab.faults.kinds import (
    FORGETTING,
    KINDS,
    SIMULATED,
    FaultKind,
    Layer,
    forget_mode,
    layer_of,
)
from lab.faults.toxics import fault_specs, make_toxic
from lab.faults.watch import WireObservation
from lab.fleet.meter import FleetPlan, FleetResult
from lab.labs.interface import (
    FaultRecord,
    FaultScope,
    FleetRunner,
    LabConfig,
    LabListener,
    SocketsFactory,
    Tap,
)
from lab.net.party import Net
from lab.net.wire import Wire
from lab.sim.fleet import SimFleet
from lab.sim.network import SIM_CA, Link, SimNetwork, SimSockets
from lab.sim.site import SimSite, site_specs
from lab.sim.storm import simulate_fleet
from lab.stream.events import LabDown, LabEvent, LabUp, SiteDown, SiteUp


def _as_toxics(kind: FaultKind, params: dict[str, Any]) -> bool:
    """Whether the fault proxy's own rules make ``kind`` on the simulated path (a one-way
    partition is a rule dropping one direction's units)."""
    return KINDS[kind].simulated_as_rules or (kind is FaultKind.PARTITION and "direction" in params)


SIM_DNS = "10.53.0.53:53"  # where the simulated lab's DNS answers (lab.sim.network: ask)


class SimLab(FaultScope):
    backend = "sim"

    @property
    def mode(self) -> Literal["sim"]:
        return "sim"

    def __init__(self, config: LabConfig, *, wire: Wire = "bytes") -> None:
        self.config = config
        self.network = SimNetwork(config.seed, wire)
        self.network.default = Link(latency=0.001, jitter=0.0005)  # the seed decides timings
        self.id = f"sim-{config.seed}"
        self.workdir = config.workdir or Path(tempfile.mkdtemp(prefix="geolab-sim-"))
        self._own_workdir = config.workdir is None  # made here: removed at stop
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sites: dict[str, SimSite] = {}
        self.journal: list[FaultRecord] = []
        self.events: list[LabEvent] = []
        self.listeners: list[LabListener] = []
        self.wire_observers: list[Callable[[WireObservation], None]] = []  # no proxy: none
        self._numbers = itertools.count(1)
        self._hosts = itertools.count(1)
        self.dns: LabDns | None = None

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
            self.sites[name] = SimSite(
                spec,
                self.network,
                seed=self.config.seed,
                certificate=self.config.certificates.get(name, "valid"),
            )
            await self.sites[name].start()
            self.emit(SiteUp(t=self.now, site=name))
        if self.config.dns is not None:  # the same records, served on the simulated network
            transports = tuple(sorted(self.config.transports or PROTOCOLS))
            self.dns = LabDns(self.config.dns, tuple(self.sites), transports, self.target)
            self.network.dns = self.dns.zone.answer
            for secure in [s.tls_address for s in self.sites.values()] + [
                    s.wss_address for s in self.sites.values()]:  # fmt: skip
                kind, names = self.network.certificates[secure]  # RFC 5922 §4: its names too
                self.network.certificates[secure] = (kind, (*names, *self.config.dns.names))
        self.emit(LabUp(t=self.now, backend="sim", sites=tuple(self.sites)))
        return self

    def dns_server(self) -> str | None:
        return SIM_DNS if self.dns is not None else None

    async def stop(self) -> None:
        for site in self.sites.values():
            await site.kill()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.emit(LabDown(t=self.now))

    def site(self, name: str) -> SimSite:
        try:
            return self.sites[name]
        except KeyError:
            raise LabError(f"no site {name!r}; sites: {', '.join(self.sites)}") from None

    def target(self, name: str, transport: str = "udp") -> tuple[str, int]:
        site = self.site(name)
        return site.address_for(transport)

    def tls_ca(self) -> str | None:
        """What stands for the lab's CA in virtual time (no file: the simulated handshake
        compares names, lab.sim.network)."""
        return SIM_CA

    # --- the network of the endpoint and the parties ------------------------------------
    def endpoint_sockets(self) -> SocketsFactory:
        return functools.partial(SimSockets, self.network)

    def endpoint_address(self) -> tuple[str, int] | None:
        return self.host(), 5060

    def replay_seed(self, name: str) -> str | None:
        return f"{name}:{self.config.seed}"  # the seed replays the run

    def party_network(self) -> Net:
        return self.network

    def party_address(self) -> Address:
        return self.host(), 5060

    @property
    def sipp_parties(self) -> bool:
        return False  # SIPp speaks to real sockets only

    # --- faults ---------------------------------------------------------------------------
    def _record(self, kind: FaultKind | str, site: str, via: str | None, params: dict[str, Any]
                ) -> FaultRecord:  # fmt: skip
        try:
            known = FaultKind(kind)
        except ValueError:
            raise LabError(f"unknown fault {kind!r}; faults: {', '.join(FaultKind)}") from None
        if not KINDS[known].simulated:
            raise LabError(
                f"fault {known.value!r} is not simulated; simulated faults: {', '.join(SIMULATED)}"
            )
        layer = layer_of(known, via)
        if layer is Layer.PROXY:  # the simulation has no proxy: the site's path is hurt
            layer = Layer.NETWORK
        return FaultRecord(next(self._numbers), known, site, params, layer.value, self.now)

    async def apply(
        self, kind: FaultKind | str, site: str, *, via: str | None = None, **params: Any
    ) -> FaultRecord:
        record = self._record(kind, site, via, dict(params))
        target = self.site(site)
        ip = target.spec.ip
        if record.via == "dns":
            self._lab_dns().apply(record)
        elif record.kind in FORGETTING:
            mode = forget_mode(record.kind, params)
            streams = [target.address_for(t) for t in ("tcp", "tls", "ws", "wss")]
            clients = [a for a in self.network.nodes if a[0] not in self.network.sites]
            self.network.state.forget(ip, streams, mode, clients)  # nothing to heal
            record.healed_at = self.now
        elif _as_toxics(record.kind, params):  # the proxy's own rules, on the simulated path
            toxics = [make_toxic(spec, protocol="udp", seed=self.config.seed, proxy=f"{site}")
                      for spec in fault_specs(record.id, record.kind, dict(params))]  # fmt: skip
            self.network.toxics.setdefault(ip, []).extend(toxics)
            record.undo["toxics"] = [t.name for t in toxics]
        elif KINDS[record.kind].outage:
            target.take_out(KINDS[record.kind].effect)
            if KINDS[record.kind].ends_site:
                self.emit(SiteDown(t=self.now, site=site))
        elif record.kind is FaultKind.RESTART:
            await target.restart()
            record.healed_at = self.now
        elif record.kind is FaultKind.LATENCY:
            self.network.degraded[ip] = Link(
                latency=float(params.get("latency", 0)) / 1000,
                jitter=float(params.get("jitter", 0)) / 1000,
            )
        elif record.kind is FaultKind.LOSS:
            self.network.degraded[ip] = Link(loss=float(params.get("percent", 0)) / 100)
        return self._applied(record)

    async def heal(self, record: FaultRecord) -> None:
        if record.healed_at is not None:
            return
        site = self.site(record.site)
        if record.via == "dns":
            self._lab_dns().heal(record)
        elif "toxics" in record.undo:
            ip, names = site.spec.ip, set(record.undo.get("toxics", []))
            left = [t for t in self.network.toxics.get(ip, []) if t.name not in names]
            self.network.toxics[ip] = left
            if not left:
                del self.network.toxics[ip]
        elif KINDS[record.kind].outage:
            site.bring_back(KINDS[record.kind].effect)
            if KINDS[record.kind].ends_site:
                self.emit(SiteUp(t=self.now, site=record.site))
        else:
            self.network.degraded.pop(site.spec.ip, None)
        self._healed(record)

    def _lab_dns(self) -> LabDns:
        return LabDns.of(self.dns)

    # --- fleets ---------------------------------------------------------------------------
    def phone_fleet(
        self,
        configs: list[EndpointConfig],
        rng: random.Random,
        tap: Tap,
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> FleetRunner:
        return SimFleet(configs, self.network, rng, tap, on_phone)

    async def run_storm(
        self, plan: FleetPlan, *, t0: float, workers: int, cluster: str | None = None
    ) -> FleetResult:
        """The storm on the discrete-event engine (its shards run ``workers`` at a time, or
        on the Dask cluster ``cluster`` names);
        its outage is journaled and told at the times it happened, and the lab's clock
        catches up. Times in the result count from ``t0``."""
        start = self.now
        result, totals = simulate_fleet(plan, workers, cluster=cluster)
        record = self._record(plan.outage_kind, plan.outage_site, None, {})
        record.requested_at = start + plan.outage_at
        record.applied_at = record.requested_at
        self.journal.append(record)
        killed = KINDS[plan.outage_kind].ends_site
        if killed:
            self.emit(SiteDown(t=record.applied_at, site=plan.outage_site))
        self.emit(self._applied_event(record))
        record.healed_at = start + result.back_at
        if killed:
            self.emit(SiteUp(t=record.healed_at, site=plan.outage_site))
        self.emit(self._healed_event(record))
        await asyncio.sleep(totals.virtual)  # virtual time: the clock catches up at once
        shift = start - t0
        result.back_at += shift
        result.load = {
            s: Counter({sec + round(shift): n for sec, n in c.items()})
            for s, c in result.load.items()
        }
        return result
