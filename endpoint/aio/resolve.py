"""The DNS questions of the phone's core (:mod:`endpoint.core.rfc3263`) asked on real
sockets: of the configured DNS server over UDP (dnspython's codec and query), or, with
none configured, of the system's resolver (A records only, off the event loop). Every
question gets an answer within ``timeout``: one nobody answered is ``TIMEOUT``."""

from __future__ import annotations

import asyncio
import socket

import dns.asyncquery
import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
from dns.rdtypes.IN.A import A as ARecord
from dns.rdtypes.IN.NAPTR import NAPTR
from dns.rdtypes.IN.SRV import SRV

from endpoint.core.rfc3263 import (
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    TIMEOUT,
    A,
    DnsAnswer,
    DnsQuery,
    Naptr,
    Record,
    Srv,
)
from endpoint.sip.events import Address

SYSTEM_TTL = 60  # s: how long the system resolver's answers are kept (it tells no TTL)


def dns_address(text: str) -> Address:
    """``address[:port]`` of a DNS server (port 53 if none)."""
    host, _, port = text.partition(":")
    return host, int(port) if port else 53


def records_of(response: dns.message.Message) -> tuple[Record, ...]:
    """The answer section as the core's records (other kinds left out)."""
    out: list[Record] = []
    for rrset in response.answer:
        for rdata in rrset:
            if isinstance(rdata, NAPTR):
                out.append(Naptr(rdata.order, rdata.preference, rdata.flags.decode(),
                                 rdata.service.decode(), rdata.replacement.to_text(),
                                 rrset.ttl))  # fmt: skip
            elif isinstance(rdata, SRV):
                out.append(Srv(rdata.priority, rdata.weight, rdata.port,
                               rdata.target.to_text(), rrset.ttl))  # fmt: skip
            elif isinstance(rdata, ARecord):
                out.append(A(rdata.address, rrset.ttl))
    return tuple(out)


def answer_of(response: dns.message.Message) -> DnsAnswer:
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return DnsAnswer(NXDOMAIN)
    if rcode != dns.rcode.NOERROR:
        return DnsAnswer(SERVFAIL)  # refused, not implemented …: the server failed us
    return DnsAnswer(NOERROR, records_of(response))


async def ask(query: DnsQuery, server: str | None, timeout: float, local_host: str) -> DnsAnswer:
    """``query`` asked of ``server`` (``address[:port]``), or of the system's resolver."""
    if server is None:
        return await ask_system(query, timeout)
    host, port = dns_address(server)
    message = dns.message.make_query(query.name, dns.rdatatype.from_text(query.rtype))
    try:
        response = await dns.asyncquery.udp(message, host, timeout=timeout, port=port,
                                            source=local_host)  # fmt: skip
    except dns.exception.Timeout:
        return DnsAnswer(TIMEOUT)
    except (OSError, dns.exception.DNSException):
        return DnsAnswer(SERVFAIL)
    return answer_of(response)


async def ask_system(query: DnsQuery, timeout: float) -> DnsAnswer:
    if query.rtype != "A":
        return DnsAnswer(NXDOMAIN)  # the system's resolver finds addresses only
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(query.name, None, family=socket.AF_INET,
                                           type=socket.SOCK_DGRAM)  # fmt: skip
    except TimeoutError:
        return DnsAnswer(TIMEOUT)
    except socket.gaierror as exc:
        gone = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        return DnsAnswer(NXDOMAIN if gone else SERVFAIL)
    except OSError:
        return DnsAnswer(SERVFAIL)
    found = dict.fromkeys(str(info[4][0]) for info in infos)
    return DnsAnswer(NOERROR, tuple(A(address, SYSTEM_TTL) for address in found))
