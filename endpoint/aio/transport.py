"""asyncio protocols for SIP over UDP, TCP (TLS) and WebSocket. They parse and hand messages up; a
malformed message is logged and dropped, never raised."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from endpoint.aio.logthrottle import throttle_drops
from endpoint.sip.errors import ParseError
from endpoint.sip.events import Address
from endpoint.sip.framing import KeepAlive, StreamFramer
from endpoint.sip.message import Message
from endpoint.sip.parser import parse_message
from endpoint.sip.websocket import WsLink

log = logging.getLogger("endpoint.transport")
throttle_drops()  # what peers make us drop is logged at a bounded rate

OnMessage = Callable[[Message, Address, str], None]
OnKeepAlive = Callable[[KeepAlive, Address, str], None]


def _addr(raw: tuple[str, int] | tuple[str, int, int, int]) -> Address:
    return (raw[0], raw[1])


_BLANK = (b"", b"\r", b"\n", b"\x00", b" ")


def read_datagram(data: bytes, source: Address) -> Message | KeepAlive | None:
    """What a datagram carries: a message, a keep-alive (blank), or None when it is
    malformed (logged and dropped)."""
    if data[:1] in _BLANK and not data.strip(b"\r\n\x00 "):  # (a message starts otherwise)
        return KeepAlive.PONG
    try:
        return parse_message(data)
    except ParseError as exc:
        log.warning("dropped malformed datagram from %s:%s: %s", *source, exc)
        return None


class UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, on_message: OnMessage, on_keepalive: OnKeepAlive | None = None) -> None:
        self.on_message = on_message
        self.on_keepalive = on_keepalive
        self.transport: asyncio.DatagramTransport | None = None
        self.rejected = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        source = _addr(addr)
        message = read_datagram(data, source)
        if message is None:
            self.rejected += 1
        elif isinstance(message, KeepAlive):
            if self.on_keepalive is not None:
                self.on_keepalive(message, source, "udp")
        else:
            self.on_message(message, source, "udp")

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error: %s", exc)


class TcpConnection(asyncio.Protocol):
    """One TCP connection, inbound or outbound; over TLS (``name`` "tls") asyncio's SSL
    transport hands it the plain bytes."""

    def __init__(
        self,
        on_message: OnMessage,
        on_keepalive: OnKeepAlive | None,
        on_lost: Callable[[TcpConnection], None],
        name: str = "tcp",
    ) -> None:
        self.name = name
        self.on_message = on_message
        self.on_keepalive = on_keepalive
        self.on_lost = on_lost
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Address = ("", 0)
        self.local: Address = ("", 0)
        self.rejected = 0
        self.on_made: Callable[[TcpConnection], None] | None = None  # once it is up

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        if peer is None or local is None:  # reset as it was made (a peer closing its port)
            self.transport.abort()
            return
        self.peer, self.local = _addr(peer), _addr(local)
        if self.on_made is not None:
            self.on_made(self)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.framer.feed(data)
        except ParseError as exc:
            self.rejected += 1
            log.warning("closing %s connection from %s:%s: %s", self.name, *self.peer, exc)
            self.close()
            return
        for frame in frames:
            if isinstance(frame, KeepAlive):
                if frame is KeepAlive.PING:
                    self.write(KeepAlive.PONG.value)
                if self.on_keepalive is not None:
                    self.on_keepalive(frame, self.peer, self.name)
                continue
            try:
                message = parse_message(frame, stream=True)
            except ParseError as exc:
                self.rejected += 1
                log.warning("dropped malformed message from %s:%s: %s", *self.peer, exc)
                continue
            self.on_message(message, self.peer, self.name)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    @property
    def open(self) -> bool:
        return self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost(self)


class WsConnection(TcpConnection):
    """One SIP WebSocket connection (RFC 7118), inbound (a site's) or outbound (the
    phone's; ``host`` goes in the upgrade request): ``name`` "ws", or "wss" over TLS.
    ``opened`` is done once the handshake is (its result "" or why it failed). A
    keep-alive ping is a WebSocket Ping; a Pong is the keep-alive's answer."""

    def __init__(
        self,
        on_message: OnMessage,
        on_keepalive: OnKeepAlive | None,
        on_lost: Callable[[TcpConnection], None],
        name: str = "ws",
        *,
        client: bool = False,
        host: str = "",
    ) -> None:
        super().__init__(on_message, on_keepalive, on_lost, name)
        self.link = WsLink(client=client, host=host)
        self.opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.link.client and self.open:
            self.transport_write(self.link.opening())

    def data_received(self, data: bytes) -> None:
        try:
            got = self.link.receive(data)
        except ParseError as exc:
            self.rejected += 1
            log.warning("closing %s connection from %s:%s: %s", self.name, *self.peer, exc)
            self._settle(f"WebSocket: {exc}")
            self.close()
            return
        if got.reply:
            self.transport_write(got.reply)
        if got.opened:
            self._settle("")
        for text in got.messages:
            try:
                message = parse_message(text)
            except ParseError as exc:
                self.rejected += 1
                log.warning("dropped malformed message from %s:%s: %s", *self.peer, exc)
                continue
            self.on_message(message, self.peer, self.name)
        if got.pongs and self.on_keepalive is not None:
            self.on_keepalive(KeepAlive.PONG, self.peer, self.name)
        if got.closed:
            self._settle(got.why or "closed")
            self.close()

    def write(self, data: bytes) -> None:
        if data == KeepAlive.PING.value:
            self.transport_write(self.link.ping())
        elif data != KeepAlive.PONG.value:
            self.transport_write(self.link.send(data))

    def transport_write(self, data: bytes) -> None:
        if data:
            super().write(data)

    def _settle(self, why: str) -> None:
        if not self.opened.done():
            self.opened.set_result(why)

    def connection_lost(self, exc: Exception | None) -> None:
        self._settle("the connection closed during the WebSocket upgrade")
        super().connection_lost(exc)
