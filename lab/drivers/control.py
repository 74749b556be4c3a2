"""The endpoint under test as a drill drives and watches it: the commands steps give
(:class:`EndpointControl`) and what its SIP messages tell the stream (:func:`observed`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Protocol

from endpoint.config import ConnectionConfig
from endpoint.core.connection import Connection
from endpoint.sip.errors import ParseError
from endpoint.sip.events import Address
from endpoint.sip.message import Message, Request
from endpoint.sip.parser import parse_message
from lab.faults.watch import WireObservation
from lab.stream.events import SipObserved


class EndpointControl(Protocol):
    """The commands a drill's steps give the endpoint (the seed's SDK calls), through its
    driver (:mod:`lab.drivers`)."""

    async def dial(self, connection: int, destination: str, /) -> str: ...
    async def answer(self, session: str, /) -> None: ...
    async def hangup(self, session: str, /) -> None: ...
    async def hold(self, session: str, /) -> None: ...
    async def resume(self, session: str, /) -> None: ...
    async def add_connection(self, config: ConnectionConfig, /) -> None: ...
    async def enable_connection(self, connection: int, /) -> None: ...
    async def disable_connection(self, connection: int, /) -> None: ...
    async def remove_connection(self, connection: int, /) -> None: ...


def connection_of(message: Message, peer: Address, conns: Iterable[Connection]) -> int | None:
    """The endpoint's connection a message belongs to: its registration dialog, else the
    connection to that peer (told apart by user where several share a site)."""
    conns = list(conns)
    for c in conns:
        if c.call_id == message.call_id:
            return c.id
    return by_user(message, [(c.id, c.user) for c in conns if c.address == peer])


def by_user(message: Message, here: list[tuple[int, str]]) -> int | None:
    """Of the connections (id, user) on one site, the one ``message`` is for: where
    several share the site, the one whose user it names (From or To)."""
    if len(here) > 1:
        users = {getattr(message.from_.uri, "user", None), getattr(message.to.uri, "user", None)}
        here = [c for c in here if c[1] in users] or here
    return here[0][0] if here else None


TEXT_MAX = 4096  # chars of a message kept on the stream
_CREDENTIALS = re.compile(r'((?:^|[\s,])(?:response|cnonce)\s*=\s*)("[^"]*"|[^\s,]+)', re.I)


def redacted(data: bytes) -> str:
    """A message as text for the reports: the digest answers of Authorization headers
    replaced (they stand for the password), at most TEXT_MAX characters."""
    text = data[:TEXT_MAX].decode("utf-8", "replace")
    def hide(line: str) -> str:
        name = line.split(":", 1)[0].strip().lower()
        if name not in ("authorization", "proxy-authorization"):
            return line
        return _CREDENTIALS.sub(lambda m: m.group(1) + '"[redacted]"', line)

    return "\n".join(hide(line) for line in text.split("\n"))


def observed(
    t: float, direction: str, message: Message, transport: str, connection: int | None,
    *, data: bytes | None = None, dropped: bool = False, site: str | None = None,
) -> SipObserved:  # fmt: skip
    """One SIP message on the stream: a request's method or a response's status, and the
    message itself (as it crossed the wire, when that is known)."""
    request = isinstance(message, Request)
    return SipObserved(
        t=t, dir=direction, connection=connection, transport=transport,
        cseq=message.headers.get("CSeq"), call_id=message.call_id,
        method=message.method if isinstance(message, Request) else None,
        status=None if request else getattr(message, "status", None),
        text=redacted(data if data is not None else bytes(message)), dropped=dropped, site=site,
    )  # fmt: skip


def observed_on_wire(
    t: float, seen: WireObservation, conns: Iterable[ConnectionConfig],
    reach: Mapping[int, set[Address]] | None = None,
) -> SipObserved | None:  # fmt: skip
    """What the fault proxy saw, as the endpoint's SIP: what it sent (``out``), and what
    reached it (``in``: not what the proxy's faults dropped); a unit that does not parse is
    recorded as such. Its connection: the one whose target is the proxy it crossed, told
    apart by user where several share a site (``reach``: where a connection named by host
    name may send, any of its name's sites)."""
    if seen.direction == "in" and not seen.delivered:
        return None
    try:
        message = parse_message(seen.data, stream=seen.protocol == "tcp")  # (ws: one message)
    except ParseError as exc:
        return SipObserved(t=t, dir=seen.direction, connection=None, transport=seen.protocol,
                           cseq=None, call_id=None, malformed=str(exc)[:160],
                           text=redacted(seen.data), dropped=not seen.delivered)  # fmt: skip
    reach = reach or {}
    here = [(c.id, c.user) for c in conns
            if (c.server, c.port) == seen.listen or seen.listen in reach.get(c.id, ())]  # fmt: skip
    return observed(t, seen.direction, message, seen.protocol, by_user(message, here),
                    data=seen.data, dropped=not seen.delivered, site=seen.site)  # fmt: skip
