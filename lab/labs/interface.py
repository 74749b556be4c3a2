"""The lab interface: what the runner, the fleet and the fleet drill use of a lab, which
the real lab (:class:`lab.real.lab.Lab`) and the simulated one (:class:`lab.sim.lab.SimLab`)
both implement. Only :mod:`lab.run.factory` knows which one it builds.

A lab has sites and their addresses (``target``: where an endpoint sends, the fault proxy
in front of the site), applies and heals faults (journaled, each as a :class:`FaultRecord`),
gives an endpoint and the remote parties their network (sockets, addresses), keeps a clock
(``now``) and tells its listeners what happened (typed lab events)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self

from lab.dns.spec import DnsSpec
from lab.faults.kinds import FaultKind
from lab.sites.base import SiteSpec
from lab.stream.events import FaultApplied, FaultHealed, LabEvent

if TYPE_CHECKING:
    import random

    from endpoint.config import EndpointConfig
    from endpoint.core.events import PhoneEvent
    from endpoint.sip.events import Address
    from lab.faults.watch import WireObservation
    from lab.fleet.meter import FleetPlan, FleetResult
    from lab.net.party import Net

Mode = Literal["real", "sim"]
LabListener = Callable[[LabEvent], None]
SocketsFactory = Callable[..., Any]  # endpoint.aio.sockets.Sockets' signature


@dataclass
class LabConfig:
    sites: list[str] = field(default_factory=lambda: ["a", "b"])
    backend: str = "auto"
    proxy: bool = True  # put the fault proxy between the endpoint and each site
    password: str | None = None
    seed: int = 0
    workdir: Path | None = None
    keep_workdir: bool = False  # a folder the lab made stays when it stops (its logs)
    external: dict[str, tuple[str, int]] = field(default_factory=dict)  # external backend
    # what each site presents on TLS (lab.system.certs.CERTIFICATES; default "valid")
    certificates: dict[str, str] = field(default_factory=dict)
    # the transports a drill uses: sites offer TLS (and the lab makes certificates), ws and
    # wss only where they are among them; None: every transport (geolab up, fixtures)
    transports: frozenset[str] | None = None
    dns: DnsSpec | None = None  # the drill's DNS records: the lab serves them (lab.dns)


@dataclass
class FaultRecord:
    id: int
    kind: FaultKind
    site: str
    params: dict[str, Any]
    via: str  # "process" | "proxy" | "kernel" | "network"
    requested_at: float
    applied_at: float = 0.0
    healed_at: float | None = None
    heal_requested_at: float | None = None  # when a real lab set about healing it
    undo: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "site": self.site,
            "params": self.params,
            "via": self.via,
            "requested_at": self.requested_at,
            "applied_at": self.applied_at,
            "healed_at": self.healed_at,
            **({"heal_requested_at": self.heal_requested_at}
               if self.heal_requested_at is not None else {}),
        }  # fmt: skip

    def fields(self) -> dict[str, Any]:
        """A snapshot for an event (the parameters copied)."""
        return {**self.to_json(), "params": dict(self.params)}


class SiteView(Protocol):
    """What the lab's users see of a site."""

    @property
    def spec(self) -> SiteSpec: ...
    @property
    def address(self) -> tuple[str, int]: ...


class FleetRunner(Protocol):
    """A fleet's endpoints on one lab, started one by one (see :mod:`lab.real.fleet`)."""

    async def open(self) -> object: ...
    async def start(self, index: int) -> None: ...
    async def close(self) -> None: ...


Tap = Callable[[int, str, Any, Any], None]  # (endpoint, direction, message, peer)


class LabInterface(Protocol):
    backend: str  # the site backend that runs ("kamailio", "embedded", "compose", "sim" …)
    workdir: Path
    journal: list[FaultRecord]
    listeners: list[LabListener]
    # every unit that crosses the fault proxy (a real lab with its proxy; else none)
    wire_observers: list[Callable[[WireObservation], None]]

    @property
    def mode(self) -> Mode: ...

    # --- lifecycle and clock ------------------------------------------------------------
    async def start(self) -> Self: ...
    async def stop(self) -> None: ...
    @property
    def now(self) -> float: ...

    # --- sites ----------------------------------------------------------------------------
    @property
    def sites(self) -> Mapping[str, SiteView]: ...
    def site(self, name: str) -> SiteView: ...
    def target(self, name: str, transport: str = "udp") -> tuple[str, int]: ...
    def tls_ca(self) -> str | None: ...
    def dns_server(self) -> str | None: ...  # the lab's DNS server, address:port (or none)

    # --- faults ---------------------------------------------------------------------------
    async def apply(
        self, kind: FaultKind | str, site: str, *, via: str | None = None, **params: Any
    ) -> FaultRecord: ...
    async def heal(self, record: FaultRecord) -> None: ...
    def fault(
        self, kind: FaultKind | str, site: str, **params: Any
    ) -> contextlib.AbstractAsyncContextManager[FaultRecord]: ...

    # --- the network of the endpoint and the parties ------------------------------------
    def endpoint_sockets(self) -> SocketsFactory: ...
    def endpoint_address(self) -> tuple[str, int] | None: ...  # None: as configured
    def replay_seed(self, name: str) -> str | None: ...  # seeds ``name``'s ids where replayed
    def party_network(self) -> Net: ...
    def party_address(self) -> Address: ...
    @property
    def sipp_parties(self) -> bool: ...  # SIPp processes can be the remote parties here

    # --- fleets ---------------------------------------------------------------------------
    def phone_fleet(
        self,
        configs: list[EndpointConfig],
        rng: random.Random,
        tap: Tap,
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> FleetRunner: ...
    async def run_storm(
        self, plan: FleetPlan, *, t0: float, workers: int, cluster: str | None = None
    ) -> FleetResult: ...


class FaultScope:
    """What the real and the simulated lab share: their listeners and fault journal, and
    ``async with lab.fault(kind, site, …)``, which applies a fault and heals it however
    the block ends. A lab provides ``now``, ``apply`` and ``heal``."""

    journal: list[FaultRecord]
    events: list[LabEvent]
    listeners: list[LabListener]

    @property
    def now(self) -> float:
        raise NotImplementedError

    def emit(self, event: LabEvent) -> LabEvent:
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        return event

    def _applied(self, record: FaultRecord) -> FaultRecord:
        """A fault took effect: note when, journal it, tell the listeners."""
        record.applied_at = self.now
        self.journal.append(record)
        self.emit(self._applied_event(record))
        return record

    def _healed(self, record: FaultRecord) -> None:
        record.healed_at = self.now
        self.emit(self._healed_event(record))

    @staticmethod
    def _applied_event(record: FaultRecord) -> FaultApplied:
        return FaultApplied(t=record.applied_at, **record.fields())

    @staticmethod
    def _healed_event(record: FaultRecord) -> FaultHealed:
        assert record.healed_at is not None
        return FaultHealed(t=record.healed_at, **record.fields())

    async def apply(
        self, kind: FaultKind | str, site: str, *, via: str | None = None, **params: Any
    ) -> FaultRecord:
        raise NotImplementedError

    async def heal(self, record: FaultRecord) -> None:
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def fault(
        self, kind: FaultKind | str, site: str, **params: Any
    ) -> AsyncIterator[FaultRecord]:
        """Apply a fault; heal it when the block ends, however it ends."""
        record = await self.apply(kind, site, **params)
        try:
            yield record
        finally:
            await asyncio.shield(self.heal(record))
