"""The lab's DNS server: a :class:`~lab.dns.zone.Zone`'s answers over UDP on a 127.x
address, in the lab's own event loop (it ends with the lab: nothing to outlive it). The
wire is dnspython's codec; a question that does not parse is dropped and logged; a fault
changes the zone's answers at once, without a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from endpoint.core.rfc3263 import NXDOMAIN, SERVFAIL, A, Naptr, Srv
from endpoint.sip.events import Address
from lab.dns.zone import Zone

log = logging.getLogger("lab.dns")
ASKED = ("A", "SRV", "NAPTR")


def response_to(query: dns.message.Message, zone: Zone) -> dns.message.Message | None:
    """``zone``'s answer to ``query`` as a DNS message (None: stay silent)."""
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
        return response
    question = query.question[0]
    rtype = dns.rdatatype.to_text(question.rdtype)
    answer = zone.answer(question.name.to_text(), rtype if rtype in ASKED else "OTHER")
    if answer is None:
        return None
    if answer.rcode in (NXDOMAIN, SERVFAIL):
        response.set_rcode(dns.rcode.NXDOMAIN if answer.rcode == NXDOMAIN else dns.rcode.SERVFAIL)
        return response
    for record in answer.records:
        if isinstance(record, A):
            text, kind = record.address, "A"
        elif isinstance(record, Srv):
            text, kind = f"{record.priority} {record.weight} {record.port} {record.target}", "SRV"
        elif isinstance(record, Naptr):
            text = (f'{record.order} {record.preference} "{record.flags}" "{record.service}" '
                    f'"" {record.replacement}')  # fmt: skip
            kind = "NAPTR"
        response.answer.append(
            dns.rrset.from_text(question.name, record.ttl, dns.rdataclass.IN, kind, text)
        )
    return response


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data)
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning("dropped a DNS question from %s:%s that does not parse: %s", *addr, exc)
            return
        try:
            response = response_to(query, self.zone)
        except (dns.exception.DNSException, ValueError) as exc:
            log.warning("cannot answer %s: %s", query.question, exc)
            return
        if response is not None and self.transport is not None:
            self.transport.sendto(response.to_wire(), addr)


class DnsServer:
    """``async with DnsServer(zone, ip) as server: server.address``."""

    def __init__(self, zone: Zone, ip: str) -> None:
        self.zone = zone
        self.ip = ip
        self.transport: asyncio.DatagramTransport | None = None
        self.address: Address = (ip, 0)

    async def start(self) -> DnsServer:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self.zone), local_addr=(self.ip, 0)
        )
        self.transport = transport
        self.address = transport.get_extra_info("sockname")[:2]
        return self

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    async def __aenter__(self) -> DnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
