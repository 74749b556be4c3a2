"""A lab's DNS: its zone (the drill's records at the lab's addresses), the DNS faults on
it, and (on real sockets) the server that answers from it. The real and the simulated lab
each hold one when the drill has a ``dns:`` section."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from endpoint.sip.events import Address
from lab.dns.server import DnsServer
from lab.dns.spec import DnsSpec
from lab.dns.zone import DnsFault, Zone
from lab.errors import LabError


class FaultLike(Protocol):
    id: int
    kind: Any
    site: str
    params: dict[str, Any]


class LabDns:
    def __init__(
        self, spec: DnsSpec, sites: tuple[str, ...], transports: tuple[str, ...],
        where: Callable[[str, str], Address],
    ) -> None:  # fmt: skip
        self.zone = Zone(spec, sites, transports, where)
        self.server: DnsServer | None = None
        self._by: dict[str, int] = {}  # site -> the fault record that set its fault

    @staticmethod
    def of(dns: LabDns | None) -> LabDns:
        """A lab's DNS, for a DNS fault (a LabError where the lab has none)."""
        if dns is None:
            raise LabError("a DNS fault needs the drill's dns: section (this lab has no DNS)")
        return dns

    async def serve(self, ip: str) -> str:
        """Answer on ``ip`` (a port of its own); its ``address:port``."""
        self.server = await DnsServer(self.zone, ip).start()
        return "{}:{}".format(*self.server.address)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def apply(self, record: FaultLike) -> None:
        mode = str(record.kind.value).removeprefix("dns_")
        to, ttl = record.params.get("to"), record.params.get("ttl")
        self.zone.faults[record.site] = DnsFault(
            mode, to=str(to) if to is not None else None, ttl=int(ttl) if ttl is not None else None
        )
        self._by[record.site] = record.id

    def heal(self, record: FaultLike) -> None:
        if self._by.get(record.site) == record.id:
            del self._by[record.site]
            self.zone.faults.pop(record.site, None)
