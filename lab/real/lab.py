"""The lab: sites behind a fault proxy, faults that can be applied and healed, and a record
of everything, on disk too, so nothing outlives it.

    async with Lab(LabConfig(sites=["a", "b"])) as lab:
        endpoint_talks_to = lab.target("a")          # the proxy in front of site a
        async with lab.fault("kill", "a"):
            ...                                       # site a is dead here
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from endpoint.aio.sockets import Sockets
from endpoint.config import PROTOCOLS, EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address
from lab.dns.service import LabDns
from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.faults.kinds import KINDS, Effect, FaultKind, Layer, layer_of, unsupported
from lab.faults.server import MARKER as FAULTS_MARKER
from lab.faults.server import FaultServerProcess, ToxiproxyServerProcess, toxiproxy_server_binary
from lab.faults.watch import Watch, WireObservation
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
from lab.net.party import Net, UdpNet
from lab.parties.sipp import sipp_binary
from lab.real.fleet import OneSocketFleet, run_fleet, run_sharded
from lab.real.kernelfaults import KernelFaults
from lab.real.proxyfaults import ProxyFaults, open_fronts
from lab.sites.base import Site, SiteSpec
from lab.sites.containers import ComposeProject, ContainerSite, free_subnet
from lab.sites.factory import make_site, resolve_backend, tls_unavailable, ws_unavailable
from lab.stream.events import LabDown, LabEvent, LabUp, SiteDown, SiteUp
from lab.system.certs import LabCertificates
from lab.system.net import allocate_address
from lab.system.state import LabState, remove_lab_folder

log = logging.getLogger("lab")


class Lab(FaultScope):
    """Real sites on loopback (or containers) behind the fault proxy."""

    @property
    def mode(self) -> Literal["real"]:
        return "real"

    def __init__(self, config: LabConfig | None = None) -> None:
        self.config = config or LabConfig()
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_ids)}"
        self.workdir = self.config.workdir or Path(tempfile.mkdtemp(prefix=f"geolab-{self.id}-"))
        self.state = LabState(self.id, str(self.workdir), made_workdir=self.config.workdir is None,
                              keep_workdir=self.config.keep_workdir)
        self.backend = resolve_backend(self.config.backend)
        self.sites: dict[str, Site] = {}
        self.fronts: dict[tuple[str, str], tuple[str, int]] = {}  # (site, transport) -> proxy
        self.certs: LabCertificates | None = None
        self.tls_unavailable: str | None = "the lab has not started"
        self.ws_unavailable: str | None = "the lab has not started"
        self.faults_server: FaultServerProcess | None = None
        self.api: ToxiproxyClient | None = None  # geolab's fault proxy (UDP, and TCP too)
        self.apis: dict[str, ToxiproxyClient] = {}  # per protocol: TCP may go to Toxiproxy
        self.proxy_faults: ProxyFaults | None = None
        self.toxiproxy: ToxiproxyServerProcess | None = None
        self.kernel = KernelFaults(self.id, self.state)
        self.project: ComposeProject | None = None
        self.journal: list[FaultRecord] = []
        self.events: list[LabEvent] = []
        self.listeners: list[LabListener] = []
        self._numbers = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._party_net: UdpNet | None = None
        self.watch: Watch | None = None
        self.wire_observers: list[Callable[[WireObservation], None]] = []
        self.dns: LabDns | None = None
        self._dns_server: str | None = None

    # --- lifecycle ------------------------------------------------------------------------
    @property
    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    async def start(self) -> Lab:
        self._loop = asyncio.get_running_loop()
        self.state.info = {"backend": self.backend, "sites": self.config.sites}
        self.state.save()
        try:
            await self._start()
        except BaseException:
            await asyncio.shield(self.stop())
            raise
        self.emit(LabUp(t=self.now, backend=self.backend, sites=tuple(self.sites)))
        return self

    async def _start(self) -> None:
        names = self.config.sites
        specs: dict[str, SiteSpec] = {}
        if self.backend == "compose":
            subnet = await asyncio.to_thread(free_subnet)
            project_name = "geolab" + self.id.replace("-", "")
            self.project = ComposeProject(project_name, self.workdir / "compose", subnet)
            self.state.compose_projects = [project_name]
            self.state.save()
        for name in names:
            if self.backend == "external":
                ip, port = self.config.external[name]
            elif self.project is not None:
                ip, port = self.project.ip(name), 5060
            else:
                ip, port = allocate_address(), 5060
            specs[name] = SiteSpec(name=name, ip=ip, port=port, password=self.config.password)
        # the proxies' addresses first: each site knows its proxy's as its own
        targets = {name: allocate_address() for name in names} if self.config.proxy else {}
        used = self.config.transports
        self.tls_unavailable = tls_unavailable(self.backend) or (
            None if used is None or used & {"tls", "wss"} else "the drill uses no TLS")
        self.ws_unavailable = ws_unavailable(self.backend) or (
            None if used is None or used & {"ws", "wss"} else "the drill uses no WebSocket")
        ws = self.ws_unavailable is None
        if self.tls_unavailable is None:
            self.certs = LabCertificates(self.workdir / "tls")
        dns_names = tuple(self.config.dns.names) if self.config.dns else ()  # RFC 5922 §4
        for name, base in specs.items():
            peers = {s.domain: (s.ip, s.port) for n, s in specs.items() if n != name}
            aliases = ((targets[name], 5060),) if name in targets else ()
            kind = self.config.certificates.get(name, "valid")
            addresses = (base.ip, *([targets[name]] if name in targets else []), *dns_names)
            cert = self.certs.for_site(name, base.domain, addresses, kind) if self.certs else None
            spec = SiteSpec(
                name=name, ip=base.ip, port=base.port, password=base.password, peers=peers,
                aliases=aliases, certificate=cert,
                tls_port=base.port + 1 if cert is not None else None,
                ws_port=base.port + 2 if ws else None,
                wss_port=base.port + 3 if ws and cert is not None else None,
            )  # fmt: skip
            if self.project is not None:
                site: Site = ContainerSite(spec, self.project)
            else:
                site = make_site(self.backend, spec, self.workdir / name)
            marker = getattr(site, "marker", "")
            site.on_pid = lambda n, pid, m=marker: self.state.track(f"site:{n}", pid, m)
            self.sites[name] = site
        await asyncio.gather(*(site.start() for site in self.sites.values()))
        for name in self.sites:
            self.emit(SiteUp(t=self.now, site=name))
        if self.config.proxy:
            self.faults_server = FaultServerProcess(
                "127.0.0.1", self.workdir, seed=self.config.seed
            )
            self.api = await self.faults_server.start()
            self.state.track("faults", self.faults_server.pid, FAULTS_MARKER)
            if self.wire_observers:  # someone wants the wire's record: stream it
                self.watch = await Watch(self._observed).start(self.api.host, self.api.port)
            self.apis = {"udp": self.api, "tcp": self.api}
            binary = toxiproxy_server_binary()
            if binary is not None:  # a real Toxiproxy takes the TCP proxies
                self.toxiproxy = ToxiproxyServerProcess(binary, "127.0.0.1", self.workdir)
                self.apis["tcp"] = await self.toxiproxy.start()
                self.state.track("toxiproxy", self.toxiproxy.pid, binary)
            if self.certs is not None:  # TLS crosses the proxy as TCP, on a port of its own
                self.apis["tls"] = self.apis["tcp"]
            if ws:  # ws on geolab's proxy, which reads SIP in its frames; wss as TLS
                self.apis["ws"] = self.api
                if self.certs is not None:
                    self.apis["wss"] = self.apis["tcp"]
            for name, site in self.sites.items():
                for transport, front in (await open_fronts(self.apis, site, targets[name])).items():
                    self.fronts[(name, transport)] = front
            self.proxy_faults = ProxyFaults(self.apis)
        if self.config.dns is not None:  # its records lead to the sites' fronts
            offered = tuple(t for t in PROTOCOLS if self.site(names[0]).address_for(t))
            self.dns = LabDns(self.config.dns, tuple(names), offered, self.target)
            self._dns_server = await self.dns.serve(allocate_address())
        self.state.info["targets"] = {n: f"{ip}:{port}" for n, (ip, port) in self.targets().items()}
        self.state.save()

    def _observed(self, seen: WireObservation) -> None:
        if seen.proxy.endswith(("-tls", "-wss")):  # encrypted: nothing of it reads as SIP
            return
        for observer in self.wire_observers:
            observer(seen)

    async def stop(self) -> None:
        if self.dns is not None:
            self.dns.stop()
        if self.watch is not None:
            with contextlib.suppress(RuntimeError):  # started in a loop that is gone
                await self.watch.stop()
            self.watch = None
        for record in reversed(self.journal):
            if record.healed_at is None and record.via != "process":
                with contextlib.suppress(Exception):
                    await self.heal(record)
        for site in self.sites.values():
            with contextlib.suppress(Exception):
                await site.stop()
        if self.project is not None:
            with contextlib.suppress(Exception):
                await self.project.down()
            self.state.compose_projects = []
        if self.toxiproxy is not None:
            await self.toxiproxy.stop()
            self.state.track("toxiproxy", None, "")
        if self.faults_server is not None:
            await self.faults_server.stop()
            self.state.track("faults", None, "")
        await self.kernel.delete()
        if self.certs is not None:
            self.certs.remove()
        remove_lab_folder(self.state)  # (or, where it stays, the secrets in it)
        self.state.remove()
        if self._party_net is not None:
            self._party_net.close()
        if self._loop is not None:
            self.emit(LabDown(t=self.now))

    async def __aenter__(self) -> Lab:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.shield(self.stop())

    # --- where things are -----------------------------------------------------------------
    def site(self, name: str) -> Site:
        try:
            return self.sites[name]
        except KeyError:
            raise LabError(f"no site {name!r}; sites: {', '.join(self.sites)}") from None

    def target(self, name: str, transport: str = "udp") -> tuple[str, int]:
        """The address an endpoint should use for site ``name`` (its proxy, if any), over
        ``transport`` (TLS has a port of its own)."""
        site = self.site(name)
        address = site.address_for(transport)
        if address is None:
            why = (self.ws_unavailable if transport == "ws" else None) or self.tls_unavailable
            raise LabError(f"site {name!r} does not offer {transport} here: {why}")
        return self.fronts.get((name, transport), address)

    def tls_ca(self) -> str | None:
        """The CA bundle the lab's sites' certificates chain to (what an endpoint under test
        is told to trust), or None where the sites offer no TLS."""
        return str(self.certs.ca_file) if self.certs is not None else None

    def dns_server(self) -> str | None:
        return self._dns_server

    def targets(self) -> dict[str, tuple[str, int]]:
        return {name: self.target(name) for name in self.sites}

    # --- the network of the endpoint and the parties ------------------------------------
    def endpoint_sockets(self) -> SocketsFactory:
        return Sockets

    def endpoint_address(self) -> tuple[str, int] | None:
        return None  # where the endpoint's configuration says (else a port of its choosing)

    def replay_seed(self, name: str) -> str | None:
        return None  # real runs are not replayed: ids as fresh as a phone's

    def party_network(self) -> Net:
        if self._party_net is None:
            self._party_net = UdpNet()
        return self._party_net

    def party_address(self) -> Address:
        return allocate_address(), 5060

    @property
    def sipp_parties(self) -> bool:
        return sipp_binary() is not None

    # --- fleets ---------------------------------------------------------------------------
    def phone_fleet(
        self,
        configs: list[EndpointConfig],
        rng: random.Random,
        tap: Tap,
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> FleetRunner:
        return OneSocketFleet(configs, rng, tap, on_phone)

    async def run_storm(
        self, plan: FleetPlan, *, t0: float, workers: int, cluster: str | None = None
    ) -> FleetResult:
        """A real fleet here (``cluster`` is for simulated storms: real endpoints send from
        this machine's sockets)."""
        if workers > 1:
            return await run_sharded(self, plan, t0=t0, workers=workers)
        return await run_fleet(self, plan, t0=t0)

    # --- faults ---------------------------------------------------------------------------
    async def apply(
        self, kind: FaultKind | str, site: str, *, via: str | None = None, **params: Any
    ) -> FaultRecord:
        try:
            known = FaultKind(kind)
            via = layer_of(known, via).value
        except ValueError:
            raise LabError(
                f"unknown fault {kind!r} or via {via!r}; faults: "
                f"{', '.join(FaultKind)}; via: {', '.join(Layer)}"
            ) from None
        why = unsupported(known, via, mode="real", backend=self.backend,
                          proxy=self.proxy_faults is not None)  # fmt: skip
        if why is not None:  # (a drill's were said before its lab started)
            raise LabError(why)
        target = self.site(site)
        record = FaultRecord(next(self._numbers), known, site, dict(params), via, self.now)
        if via == "process":
            await self._process_fault(record, target)
        elif via == "network":
            assert isinstance(target, ContainerSite)  # (the compose backend's: unsupported)
            await target.disconnect()
        elif via == "kernel":
            await self.kernel.apply(record, target.spec.ip)
        elif via == "dns":
            self._lab_dns().apply(record)
        elif self.proxy_faults is not None:
            await self.proxy_faults.apply(record)
        if not KINDS[known].heals and via != "process":
            record.healed_at = self.now  # done at once: nothing to undo
        return self._applied(record)

    async def heal(self, record: FaultRecord) -> None:
        if record.healed_at is not None:
            return
        record.heal_requested_at = self.now  # (a site may answer before its heal returns)
        site = self.site(record.site)
        if record.via == "process":
            if KINDS[record.kind].ends_site:
                await site.start()
                await self._site_dead(record.site, dead=False, why=record.id)
                self.emit(SiteUp(t=self.now, site=record.site))
            elif KINDS[record.kind].effect is Effect.SILENT:
                await site.resume()
        elif record.via == "kernel":
            await self.kernel.heal(record)
        elif record.via == "network":
            assert isinstance(site, ContainerSite)
            await site.connect()
        elif record.via == "dns":
            self._lab_dns().heal(record)
        elif self.proxy_faults is not None:
            await self.proxy_faults.heal(record)
        self._healed(record)

    def _lab_dns(self) -> LabDns:
        return LabDns.of(self.dns)

    async def _site_dead(self, name: str, *, dead: bool, why: int) -> None:
        if self.proxy_faults is not None:  # a dead site's TCP port is closed on the proxy too
            await self.proxy_faults.site_dead(name, dead=dead, why=why)

    async def _process_fault(self, record: FaultRecord, site: Site) -> None:
        if KINDS[record.kind].ends_site:
            await (site.kill() if record.kind is FaultKind.KILL else site.stop())
            await self._site_dead(record.site, dead=True, why=record.id)
            self.emit(SiteDown(t=self.now, site=record.site))
        elif KINDS[record.kind].effect is Effect.SILENT:
            await site.hang()
        elif record.kind is FaultKind.RESTART:
            await self._site_dead(record.site, dead=True, why=record.id)
            await site.restart()
            await self._site_dead(record.site, dead=False, why=record.id)
            record.healed_at = self.now  # nothing to undo
            self.emit(SiteUp(t=self.now, site=record.site))
        else:
            raise LabError(f"fault {record.kind!r} is not a process fault")


_ids = itertools.count(1)
