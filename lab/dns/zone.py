"""The answers of the lab's DNS: the records a drill's ``dns:`` section writes
(:mod:`lab.dns.spec`) at the addresses the lab gives its sites, under the DNS faults:

- ``dns_nxdomain`` / ``dns_servfail`` on a site: every name leading to it (its own names,
  and the names with it among their targets) answers NXDOMAIN / SERVFAIL;
- ``dns_silent``: those questions get no answer at all;
- ``dns_change`` (``to``: another site, ``ttl``): the records that led to the site lead to
  ``to`` instead, with the new TTL ("flip the name to site B").

Plain data in and out (:mod:`endpoint.core.rfc3263`'s records), no I/O: the real lab's
server (:mod:`lab.dns.server`) and the simulated network both ask :meth:`Zone.answer`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.core.rfc3263 import (
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    SERVICES,
    SRV_PREFIX,
    A,
    DnsAnswer,
    Naptr,
    Record,
    Srv,
    fqdn,
)
from endpoint.sip.events import Address
from lab.dns.spec import DnsEntry, DnsSpec

PREFIX_TRANSPORT = {prefix: transport for transport, prefix in SRV_PREFIX.items()}
MODES = ("nxdomain", "servfail", "silent", "change")


@dataclass
class DnsFault:
    mode: str  # one of MODES
    to: str | None = None  # change: the site the records lead to now
    ttl: int | None = None  # change: their TTL


@dataclass
class Zone:
    spec: DnsSpec
    sites: tuple[str, ...]  # the lab's
    transports: tuple[str, ...]  # the transports a record is written for
    where: Callable[[str, str], Address]  # (site, transport) -> where an endpoint reaches it
    faults: dict[str, DnsFault] = field(default_factory=dict)  # by site
    asked: int = 0  # questions answered or not

    def host(self, site: str, transport: str) -> str:
        return f"{transport}.{site}.{fqdn(self.spec.domain)}"

    def _site_of_host(self, name: str) -> tuple[str, str] | None:
        suffix = "." + fqdn(self.spec.domain)
        if not name.endswith(suffix):
            return None
        transport, _, site = name[: -len(suffix)].partition(".")
        if transport not in self.transports or site not in self.sites:
            return None
        return site, transport

    def _lead(self, site: str) -> tuple[str, int | None]:
        """Where records of ``site`` lead now, and the TTL a change gave them."""
        fault = self.faults.get(site)
        if fault is not None and fault.mode == "change" and fault.to is not None:
            return fault.to, fault.ttl
        return site, None

    def _hurt(self, sites: list[str]) -> tuple[bool, DnsAnswer | None]:
        """Whether a fault on one of ``sites`` answers for them, and its answer (None:
        silence)."""
        modes = {self.faults[s].mode for s in sites if s in self.faults}
        if "silent" in modes:
            return True, None
        for mode, rcode in (("servfail", SERVFAIL), ("nxdomain", NXDOMAIN)):
            if mode in modes:
                return True, DnsAnswer(rcode)
        return False, None

    def answer(self, name: str, rtype: str) -> DnsAnswer | None:
        """The answer to ``name`` ``rtype``; None when the server stays silent."""
        self.asked += 1
        name = fqdn(name)
        prefix, _, rest = name.partition(".")
        prefix2, _, base = rest.partition(".")
        srv = PREFIX_TRANSPORT.get(f"{prefix}.{prefix2}") if prefix.startswith("_") else None
        entry = self.spec.names.get(base if srv else name)
        if entry is not None:
            hurt, said = self._hurt([t.site for t in entry.targets])
            if hurt:
                return said
            return DnsAnswer(NOERROR, self._records(base if srv else name, entry, rtype, srv))
        own = self._site_of_host(name)
        if own is None:
            return DnsAnswer(NXDOMAIN)
        hurt, said = self._hurt([own[0]])
        if hurt:
            return said
        if rtype != "A":
            return DnsAnswer(NOERROR)
        site, ttl = self._lead(own[0])
        return DnsAnswer(NOERROR, (A(self.where(site, own[1])[0], self._ttl(None, ttl)),))

    def _ttl(self, entry: DnsEntry | None, changed: int | None) -> int:
        if changed is not None:
            return changed
        return entry.ttl if entry is not None and entry.ttl is not None else self.spec.ttl

    def _records(
        self, name: str, entry: DnsEntry, rtype: str, srv: str | None
    ) -> tuple[Record, ...]:
        changed = [self._lead(t.site)[1] for t in entry.targets]
        ttl = self._ttl(entry, min((c for c in changed if c is not None), default=None))
        if srv is None and rtype == "NAPTR":
            if not entry.naptr:
                return ()
            return tuple(Naptr(10, 10 * (i + 1), "s", SERVICES[t], f"{SRV_PREFIX[t]}.{name}.", ttl)
                         for i, t in enumerate(self.transports))  # fmt: skip
        if srv is not None and rtype == "SRV" and srv in self.transports:
            out: list[Record] = []
            for target in entry.targets:
                site = self._lead(target.site)[0]
                port = self.where(site, srv)[1]
                host = self.host(site, srv) + "."
                out.append(Srv(target.priority, target.weight, port, host, ttl))
            return tuple(out)
        if srv is None and rtype == "A":  # the name's own addresses (RFC 3263 without SRV)
            sites = dict.fromkeys(self._lead(t.site)[0] for t in entry.targets)
            return tuple(A(self.where(s, self.transports[0])[0], ttl) for s in sites)
        return ()
