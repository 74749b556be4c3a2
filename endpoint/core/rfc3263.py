"""Locating a SIP server by name as RFC 3263 says, sans-I/O: NAPTR, then SRV, then A.

A :class:`Resolution` asks questions (:class:`DnsQuery`) and is given their answers
(:class:`DnsAnswer`, which the I/O layer reads off the wire, or makes itself when no answer
came in time); it ends with the server's targets in the order they are to be tried, or with
why there are none. It keeps no clock: ``now`` comes with every answer, and the targets are
good until :attr:`Resolution.expires` (the smallest TTL of the records they rest on).

- NAPTR (§4.1): the records whose service is the connection's transport (``SIP+D2U`` for
  UDP, ``SIP+D2T`` TCP, ``SIPS+D2T`` TLS, ``SIP+D2W`` / ``SIPS+D2W`` WebSocket, RFC 7118),
  by order then preference; their replacement is the SRV name. None of them: the SRV name
  is the transport's own (``_sip._udp.NAME`` …).
- SRV (§4.2, RFC 2782): by priority; within one priority, a weighted random order (a record
  of weight 0 is chosen only when nothing heavier is left). None: the name's own A
  records, at the connection's port.
- A: each SRV target's addresses, in the SRV order.

A name that does not exist, or has no records of a kind, moves on to the next kind; a
server failure or a question nobody answered ends the resolution (the site is not found:
a site that is down, to the phone, not a broken configuration).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from endpoint.sip.events import Address

NOERROR, NXDOMAIN, SERVFAIL, TIMEOUT = "NOERROR", "NXDOMAIN", "SERVFAIL", "TIMEOUT"
# RFC 3263 §4.1 / RFC 7118 §4: the NAPTR service of each transport, and its SRV prefix
SERVICES: Final = {"udp": "SIP+D2U", "tcp": "SIP+D2T", "tls": "SIPS+D2T",
                   "ws": "SIP+D2W", "wss": "SIPS+D2W"}  # fmt: skip
SRV_PREFIX: Final = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp",
                     "ws": "_sip._ws", "wss": "_sips._ws"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    replacement: str
    ttl: int


@dataclass(frozen=True, slots=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str
    ttl: int


@dataclass(frozen=True, slots=True)
class A:
    address: str
    ttl: int


Record = Naptr | Srv | A


@dataclass(frozen=True, slots=True)
class DnsQuery:
    id: int
    name: str
    rtype: str  # "NAPTR", "SRV" or "A"


@dataclass(frozen=True, slots=True)
class DnsAnswer:
    rcode: str  # NOERROR, NXDOMAIN, SERVFAIL, or TIMEOUT (no answer in time)
    records: tuple[Record, ...] = ()


def srv_order(records: list[Srv], rng: random.Random) -> list[Srv]:
    """RFC 2782's order: by priority, and within a priority by weighted random draws."""
    out: list[Srv] = []
    for priority in sorted({r.priority for r in records}):
        left = sorted((r for r in records if r.priority == priority), key=lambda r: r.weight)
        while left:  # weight-0 records first in the list, as RFC 2782 says to arrange them
            total = sum(r.weight for r in left)
            pick = rng.randint(0, total)
            running = 0
            for i, r in enumerate(left):
                running += r.weight
                if running >= pick:
                    out.append(left.pop(i))
                    break
    return out


def fqdn(name: str) -> str:
    return name.rstrip(".").lower()


class Resolution:
    """One name's targets for one transport, found step by step.

    ``start()`` gives the first questions; ``answer(query, answer, now)`` takes each answer
    and gives the next questions (none: it has ended; :attr:`targets` or :attr:`error`)."""

    def __init__(
        self, name: str, transport: str, port: int, *, rng: random.Random, next_id: int,
        naptr: bool = True,
    ) -> None:  # fmt: skip
        self.name: Final = fqdn(name)
        self.transport: Final = transport
        self.port: Final = port  # when the name has no SRV records
        self.rng: Final = rng
        self.naptr: Final = naptr  # False: a resolver that asks A records only (the system's)
        self.next_id = next_id
        self.pending: dict[int, DnsQuery] = {}
        self.srv_names: list[str] = []  # SRV names still to try (from NAPTR), in order
        self.hosts: list[tuple[str, int]] = []  # (SRV target, port) in order
        self.addresses: dict[str, list[str]] = {}  # a target's A records, as they come
        self.ttl: float | None = None  # the smallest TTL seen on the way
        self.targets: list[Address] = []
        self.error: str | None = None
        self.done = False
        self.expires = 0.0

    def start(self) -> list[DnsQuery]:
        if not self.naptr:
            self.hosts = [(self.name, self.port)]
            return [self._ask(self.name, "A")]
        return [self._ask(self.name, "NAPTR")]

    def _ask(self, name: str, rtype: str) -> DnsQuery:
        query = DnsQuery(self.next_id, name, rtype)
        self.next_id += 1
        self.pending[query.id] = query
        return query

    def _saw(self, records: tuple[Record, ...]) -> None:
        for r in records:
            self.ttl = r.ttl if self.ttl is None else min(self.ttl, r.ttl)

    def _fail(self, why: str) -> list[DnsQuery]:
        self.error, self.done, self.pending = why, True, {}
        return []

    def answer(self, query_id: int, answer: DnsAnswer, now: float) -> list[DnsQuery]:
        query = self.pending.pop(query_id, None)
        if query is None or self.done:
            return []  # not ours, or too late
        if answer.rcode in (SERVFAIL, TIMEOUT):
            what = "no answer" if answer.rcode == TIMEOUT else answer.rcode
            return self._fail(f"DNS {query.rtype} {query.name}: {what}")
        found = answer.records if answer.rcode == NOERROR else ()
        self._saw(found)
        if query.rtype == "NAPTR":
            return self._naptr([r for r in found if isinstance(r, Naptr)])
        if query.rtype == "SRV":
            return self._srv([r for r in found if isinstance(r, Srv)], answer.rcode)
        self.addresses[query.name] = [r.address for r in found if isinstance(r, A)]
        return self._maybe_done(now, answer.rcode)

    def _naptr(self, records: list[Naptr]) -> list[DnsQuery]:
        service = SERVICES[self.transport]
        usable = [r for r in records if r.service.upper() == service and r.flags.lower() == "s"]
        usable.sort(key=lambda r: (r.order, r.preference))
        self.srv_names = [fqdn(r.replacement) for r in usable]
        if not self.srv_names:  # §4.1: no NAPTR for it; the transport's own SRV name
            self.srv_names = [f"{SRV_PREFIX[self.transport]}.{self.name}"]
        return [self._ask(self.srv_names.pop(0), "SRV")]

    def _srv(self, records: list[Srv], rcode: str) -> list[DnsQuery]:
        records = [r for r in records if r.target not in ("", ".")]
        if not records:
            if self.srv_names:  # the next NAPTR's SRV name
                return [self._ask(self.srv_names.pop(0), "SRV")]
            self.hosts = [(self.name, self.port)]  # §4.2: no SRV: the name's A records
            return [self._ask(self.name, "A")]
        self.hosts = [(fqdn(r.target), r.port) for r in srv_order(records, self.rng)]
        return [self._ask(h, "A") for h in dict.fromkeys(h for h, _ in self.hosts)]

    def _maybe_done(self, now: float, rcode: str) -> list[DnsQuery]:
        if self.pending:
            return []
        self.done = True
        self.targets = list(dict.fromkeys(
            (address, port) for host, port in self.hosts for address in self.addresses.get(host, [])
        ))  # fmt: skip
        if not self.targets:
            what = NXDOMAIN if rcode == NXDOMAIN else "no address"
            self.error = f"DNS {self.name}: {what}"
        self.expires = now + (self.ttl if self.ttl is not None else 0.0)
        return []
