"""SIP over WebSocket (RFC 7118), sans-I/O: one connection's opening handshake and
framing, client or server side, and a passive reader of one way of a connection (what the
fault proxy records). No sockets and no clock: bytes in, messages and bytes out.

The framing is wsproto's (h11 for the HTTP upgrade): a sans-I/O library that already has
the shape of this core, checks the handshake's key and the frames' masking, and is kept up
to date with its RFCs; the reader of a third party's connection uses its frame decoder.
Each SIP message is one WebSocket message (RFC 7118 §5.2), sent as a text frame when it is
UTF-8 (as browsers send them) and binary otherwise. A CRLF keep-alive (RFC 5626) has no
place inside a WebSocket: over one, a ping is a WebSocket Ping and its answer the Pong.
"""

from __future__ import annotations

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.events import (
    Message as WsMessage,
)
from wsproto.frame_protocol import FrameProtocol, Opcode, ParseFailed
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from endpoint.sip.errors import ParseError

SUBPROTOCOL = "sip"  # RFC 7118 §4.1: Sec-WebSocket-Protocol
MAX_MESSAGE = 1 << 20  # bytes: a SIP message that long is not one


class WsFrames:
    """What one :meth:`WsLink.receive` gives: whole SIP messages, whether a Pong came (a
    keep-alive answered), bytes to write back (a handshake answer, a Pong, a Close), and
    whether the connection is over (closed, or refused: ``why`` says how)."""

    __slots__ = ("closed", "messages", "opened", "pongs", "reply", "why")

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.pongs = 0
        self.reply = b""
        self.closed = False
        self.opened = False
        self.why = ""


class WsLink:
    """One end of a SIP WebSocket connection. The client's :meth:`opening` is the upgrade
    request to write first; a server answers the request in :meth:`receive` (accepting only
    the ``sip`` subprotocol). Until the handshake is done :meth:`send` keeps messages, and
    hands them on framed in the receive that completes it."""

    def __init__(self, *, client: bool, host: str = "", path: str = "/") -> None:
        self.client = client
        self.host = host
        self.path = path
        self._ws = WSConnection(ConnectionType.CLIENT if client else ConnectionType.SERVER)
        self._parts: list[bytes] = []
        self._size = 0
        self._held: list[bytes] = []

    @property
    def open(self) -> bool:
        return self._ws.state is ConnectionState.OPEN

    @property
    def closed(self) -> bool:
        return self._ws.state in (ConnectionState.CLOSED, ConnectionState.LOCAL_CLOSING,
                                  ConnectionState.REJECTING)  # fmt: skip

    def opening(self) -> bytes:
        """The client's upgrade request."""
        return self._ws.send(
            Request(host=self.host or "localhost", target=self.path, subprotocols=[SUBPROTOCOL])
        )

    def send(self, message: bytes) -> bytes:
        """``message`` framed (empty while the handshake is under way: kept till then)."""
        if not self.open:
            if not self.closed:
                self._held.append(message)
            return b""
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            return self._ws.send(BytesMessage(data=message))
        return self._ws.send(TextMessage(data=text))

    def ping(self) -> bytes:
        return self._ws.send(Ping(payload=b"sip")) if self.open else b""

    def close(self) -> bytes:
        if not self.open:
            return b""
        return self._ws.send(CloseConnection(code=1000, reason="closing"))

    def receive(self, data: bytes) -> WsFrames:
        """Feed bytes as they arrive. A peer that breaks the protocol raises
        :class:`ParseError`: the connection should be closed."""
        got = WsFrames()
        reply = bytearray()
        try:
            self._ws.receive_data(data or None)
            for event in self._ws.events():
                if isinstance(event, Request):
                    if SUBPROTOCOL in event.subprotocols:
                        reply += self._ws.send(AcceptConnection(subprotocol=SUBPROTOCOL))
                        got.opened = True
                    else:
                        reply += self._ws.send(RejectConnection(status_code=400))
                        got.closed, got.why = True, "no sip subprotocol asked for"
                elif isinstance(event, AcceptConnection):
                    if event.subprotocol != SUBPROTOCOL:
                        got.closed, got.why = True, "the server did not agree to sip"
                    else:
                        got.opened = True
                elif isinstance(event, RejectConnection):
                    got.closed = True
                    got.why = f"WebSocket upgrade refused ({event.status_code})"
                elif isinstance(event, WsMessage):
                    part = event.data.encode() if isinstance(event, TextMessage) else event.data
                    self._size += len(part)
                    if self._size > MAX_MESSAGE:
                        raise ParseError(f"message over {MAX_MESSAGE} bytes", "websocket")
                    self._parts.append(bytes(part))
                    if event.message_finished:
                        got.messages.append(b"".join(self._parts))
                        self._parts, self._size = [], 0
                elif isinstance(event, Ping):
                    reply += self._ws.send(event.response())
                elif isinstance(event, Pong):
                    got.pongs += 1
                elif isinstance(event, CloseConnection):
                    if self._ws.state is ConnectionState.OPEN:  # the peer broke the protocol
                        raise ParseError(event.reason or f"close code {event.code}", "websocket")
                    if self._ws.state is ConnectionState.REMOTE_CLOSING:
                        reply += self._ws.send(event.response())
                    got.closed, got.why = True, f"closed by the peer ({event.code})"
        except (RemoteProtocolError, LocalProtocolError) as exc:
            raise ParseError(str(exc), "websocket") from None
        if got.opened and self._held:
            held, self._held = self._held, []
            for message in held:
                reply += self.send(message)
        got.reply = bytes(reply)
        return got


class WsReader:
    """A third party's view of one way of a WebSocket connection (``masked``: the
    client's way, whose frames are masked): feed it the bytes that cross; it skips the
    HTTP upgrade and gives each frame's bytes as they were, with the message a data frame
    completes (unmasked), so the frames can be passed on one by one and the SIP inside
    them read. Bytes that do not read as WebSocket are given on as they are, unread."""

    def __init__(self, *, masked: bool) -> None:
        self._frames = FrameProtocol(client=not masked, extensions=[])
        self._head = bytearray()
        self._upgraded = False
        self._raw = bytearray()  # what the decoder holds, not yet a whole frame
        self._parts: list[bytes] = []
        self.broken = False

    def feed(self, data: bytes) -> list[tuple[bytes, bytes | None]]:
        """(bytes to pass on, the SIP message a frame completes or None) per unit."""
        if self.broken:
            return [(data, None)]
        units: list[tuple[bytes, bytes | None]] = []
        if not self._upgraded:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > 65536:
                    return self._give_up(units)
                return []
            units.append((bytes(self._head[: end + 4]), None))
            data = bytes(self._head[end + 4 :])
            self._head.clear()
            self._upgraded = True
            if not data:
                return units
        self._raw += data
        self._frames.receive_bytes(data)
        try:
            for frame in self._frames.received_frames():
                data_frame = frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONTINUATION)
                if data_frame:
                    payload = frame.payload
                    if isinstance(payload, str):
                        part = payload.encode()
                    elif isinstance(payload, bytes | bytearray):
                        part = bytes(payload)
                    else:  # (a close frame's code and reason: not a data frame's)
                        part = b""
                    self._parts.append(part)
                if not frame.frame_finished:
                    continue  # (a long frame's payload comes in parts)
                size = _frame_size(self._raw)
                raw = bytes(self._raw[:size])
                del self._raw[:size]
                message = None
                if data_frame and frame.message_finished:
                    message = b"".join(self._parts)
                    self._parts = []
                units.append((raw, message))
        except (ParseFailed, ValueError):
            return self._give_up(units)
        return units

    def _give_up(self, units: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
        self.broken = True
        rest = bytes(self._head) + bytes(self._raw)
        self._head.clear()
        self._raw.clear()
        return [*units, (rest, None)] if rest else units


def _frame_size(buf: bytes | bytearray) -> int:
    """The length of the frame ``buf`` starts with (all of it is there)."""
    masked = buf[1] & 0x80
    length = buf[1] & 0x7F
    at = 2
    if length == 126:
        length, at = int.from_bytes(buf[2:4], "big"), 4
    elif length == 127:
        length, at = int.from_bytes(buf[2:10], "big"), 10
    return at + (4 if masked else 0) + length
