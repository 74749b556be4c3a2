"""The fault proxy's TCP relay: one upstream connection per client connection.

Both sockets are asyncio protocols: what one receives is handed to the other's transport
in the same callback (no task woken, no queue) while the proxy is idle, and otherwise
cut into SIP messages (:class:`~endpoint.sip.framing.StreamFramer`) for the toxics, whose
deliveries are written at their times, in order. A stream that does not frame as SIP (TLS
among them) passes as raw chunks. Over a WebSocket relay (``ws``) the units are the
WebSocket frames, passed on as they came, and what is recorded of each is the SIP message
it completes (the client's frames unmasked); the upgrade and control frames cross
unrecorded. A writer's full buffer pauses the reader of the other socket, as the stream
reader's drain did.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections import deque
from typing import Any, Protocol, cast

from endpoint.sip import ParseError
from endpoint.sip.framing import KeepAlive, StreamFramer
from endpoint.sip.websocket import WsReader
from lab.faults.toxics import LinkState, Outcome

Addr = tuple[str, int]


class Proxy(Protocol):
    """What the relay needs of :class:`lab.faults.proxy.Proxy`."""

    listen: Addr
    upstream: Addr

    @property
    def idle(self) -> bool: ...

    def process(
        self, data: bytes, stream: str, link: LinkState, now: float, client: Addr | None = None,
        shown: bytes | None = None,
    ) -> Outcome: ...

    def lost(
        self, data: bytes, stream: str, now: float, client: Addr | None, shown: bytes | None
    ) -> None: ...


class Tcp:
    def __init__(self, proxy: Proxy, bind: str, *, websocket: bool = False) -> None:
        self.proxy = proxy
        self.websocket = websocket  # the units are WebSocket frames, SIP inside them
        self.bind = bind  # the address upstream connections leave from
        self.server: asyncio.Server | None = None
        self.links: set[Link] = set()
        self.bound: Addr = proxy.listen
        self.stopped = False

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: Side(self, None), *self.proxy.listen, reuse_address=True
        )
        self.bound = self.server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        """Close the port and every connection (one accepted as the port closes, too)."""
        self.stopped = True
        if self.server is not None:
            self.server.close()
        for link in list(self.links):
            link.end("close")
        if self.server is not None:
            await self.server.wait_closed()


    def forget(self, mode: str) -> None:
        for link in list(self.links):
            link.forget(mode)


class Side(asyncio.Protocol):
    """One socket of a relayed connection: the client's (``link`` None until it connects)
    or the upstream one."""

    def __init__(self, tcp: Tcp, link: Link | None) -> None:
        self.tcp = tcp
        self.link = link
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is not a subclass)
        if self.link is None and self.tcp.stopped:  # accepted as the port closed
            self.transport.close()
            return
        if self.link is None:  # a client: reach the site before reading what it sends
            self.transport.pause_reading()
            self.link = Link(self.tcp, self)
            self.tcp.links.add(self.link)
            self.link.opening = asyncio.ensure_future(self.link.open())
        else:
            self.link.connected(self)

    def data_received(self, data: bytes) -> None:
        if self.link is not None:
            self.link.received(self, data)

    def eof_received(self) -> bool:
        if self.link is not None:
            self.link.eof(self)
        return True  # half-closed: what is still due the other way is written

    def connection_lost(self, exc: Exception | None) -> None:
        if self.link is not None:
            self.link.lost(self)

    def pause_writing(self) -> None:
        if self.link is not None:
            self.link.other(self).pause()

    def resume_writing(self) -> None:
        if self.link is not None:
            self.link.other(self).resume()

    def pause(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()


class Direction:
    """What one way of the connection keeps: its framing, link state and pending writes."""

    def __init__(self, name: str, *, websocket: bool = False) -> None:
        self.name = name  # upstream: from the endpoint to the site
        self.framer: StreamFramer | None = None if websocket else StreamFramer()
        # a WebSocket's frames, masked from the client (upstream)
        self.ws = WsReader(masked=name == "upstream") if websocket else None
        self.first = True
        self.state = LinkState()
        self.pending: deque[tuple[float, bytes]] = deque()
        self.last = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.eof = False

    def units(self, data: bytes) -> list[tuple[bytes, bytes | None]]:
        """The units ``data`` completes, each with what is shown of it (None: itself;
        empty: nothing, as a WebSocket's upgrade and control frames)."""
        if self.ws is not None:
            return [(raw, b"" if sip is None else sip) for raw, sip in self.ws.feed(data)]
        if self.first and _binary(data):
            self.framer = None  # TLS (its records start with a byte SIP never does): raw
        self.first = False
        if self.framer is None:
            return [(data, None)]
        try:
            framed = self.framer.feed(data)
        except ParseError:
            self.framer = None  # not SIP: pass the rest as raw chunks
            return [(data, None)]
        return [(f.value if isinstance(f, KeepAlive) else f, None) for f in framed]


class Link:
    def __init__(self, tcp: Tcp, client: Side) -> None:
        self.tcp = tcp
        self.proxy = tcp.proxy
        self.loop = asyncio.get_running_loop()
        self.client = client
        self.upstream: Side | None = None
        self.opening: asyncio.Future[None] | None = None
        self.early: list[bytes] = []  # what the client sent before the site's side was up
        self.closing = False
        self.forgotten: str | None = None  # reset | nothing: the site's side is gone
        ws = tcp.websocket
        self.ways = {"upstream": Direction("upstream", websocket=ws),
                     "downstream": Direction("downstream", websocket=ws)}  # fmt: skip
        assert client.transport is not None
        peer = client.transport.get_extra_info("peername")
        self.peer: Addr | None = (str(peer[0]), int(peer[1])) if peer else None  # the endpoint

    async def open(self) -> None:
        side = Side(self.tcp, self)
        try:
            await self.loop.create_connection(
                lambda: side, *self.proxy.upstream, local_addr=(self.tcp.bind, 0)
            )
        except OSError:
            self.end("reset")
            return
        if self.closing:
            self.end("close")
        else:
            self.client.resume()

    def connected(self, upstream: Side) -> None:
        self.upstream = upstream
        early, self.early = self.early, []
        for data in early:
            self.received(self.client, data)

    def _way(self, side: Side) -> Direction:
        """The direction of what ``side`` receives."""
        return self.ways["upstream" if side is self.client else "downstream"]

    def other(self, side: Side) -> Side:
        return self.upstream if side is self.client and self.upstream else self.client

    def forget(self, mode: str) -> None:
        """The site's side ends now (reset); the client learns at its next segment,
        which is answered with a reset (``reset``) or by nothing (``nothing``)."""
        self.forgotten = mode
        if self.upstream is not None and self.upstream.transport is not None:
            _reset(self.upstream.transport)

    def received(self, side: Side, data: bytes) -> None:
        if self.closing:
            return
        if self.forgotten is not None:  # nothing reaches the site's side that is gone
            if side is self.client:
                way = self._way(side)
                for unit, shown in way.units(data):  # on the wire's record, as dropped
                    self.proxy.lost(unit, way.name, self.loop.time(), self.peer, shown)
                if self.forgotten == "reset":
                    self.end("reset")
            return
        if self.upstream is None:  # the client spoke before the site answered the connect
            self.early.append(data)
            return
        way = self._way(side)
        if self.proxy.idle and not way.pending and way.ws is None:  # untouched, unwatched
            way.units(data)  # (the framing follows the stream all the same)
            self._write(self.other(side), data)
            return
        units = way.units(data)
        now = self.loop.time()
        for unit, shown in units:
            out = self.proxy.process(unit, way.name, way.state, now, self.peer, shown)
            for delay, chunk in out.deliveries:
                way.last = max(way.last, now + delay)
                way.pending.append((way.last, chunk))
            if out.reply is not None:
                self._write(side, out.reply)
            if out.close is not None:
                self.loop.call_later(out.close_after, self.end, out.close)
        self._flush(way)

    def _flush(self, way: Direction) -> None:
        if way.timer is not None:
            way.timer.cancel()  # (called early: data came meanwhile)
        way.timer = None
        target = self.upstream if way.name == "upstream" else self.client
        if target is None:
            return
        now = self.loop.time()
        while way.pending and way.pending[0][0] <= now:
            self._write(target, way.pending.popleft()[1])
        if way.pending:
            way.timer = self.loop.call_at(way.pending[0][0], self._flush, way)
        elif way.eof:
            self._half_close(target)

    def eof(self, side: Side) -> None:
        way = self._way(side)
        way.eof = True
        if way.timer is None:
            self._flush(way)

    def _half_close(self, side: Side) -> None:
        """Pass an end of stream on once all that came before it is written; both ways
        ended, the connection is closed."""
        t = side.transport
        if t is not None and not t.is_closing() and t.can_write_eof():
            with contextlib.suppress(OSError):
                t.write_eof()
        if all(w.eof and not w.pending for w in self.ways.values()):
            self.end("close")

    def lost(self, side: Side) -> None:
        if self.forgotten is not None and side is not self.client:
            return  # the site's side, forgotten: the client's side stays until it sends
        self.end("close")

    def end(self, how: str) -> None:
        if self.closing and how != "reset":
            return
        self.closing = True
        self.tcp.links.discard(self)
        for way in self.ways.values():
            if way.timer is not None:
                way.timer.cancel()
        for side in (self.client, self.upstream):
            if side is None or side.transport is None:
                continue
            if how == "reset":
                _reset(side.transport)
            else:
                side.transport.close()
        if self.opening is not None and self.upstream is None:
            self.opening.cancel()

    def _write(self, side: Side, data: bytes) -> None:
        if side.transport is not None and not side.transport.is_closing():
            side.transport.write(data)


def _binary(data: bytes) -> bool:
    """A stream that opens with a control byte other than CR or LF is not SIP: a TLS
    record's first byte is its content type (20 to 23)."""
    return bool(data) and data[0] < 0x20 and data[0] not in (0x0D, 0x0A)


def _reset(transport: Any) -> None:
    """Close with RST instead of FIN (SO_LINGER 0)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()
