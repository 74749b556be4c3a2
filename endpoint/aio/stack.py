"""``SipStack``: one transaction layer on real sockets, driven by one re-armed timer."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from types import TracebackType

from endpoint.aio.transport import TcpConnection, UdpProtocol
from endpoint.sip.auth import DigestClient
from endpoint.sip.builder import via_value
from endpoint.sip.events import (
    Address,
    Outgoing,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TxKey,
)
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.message import Message, Request, Response, make_response
from endpoint.sip.timers import TimerConfig

log = logging.getLogger("endpoint.stack")

OnRequest = Callable[[RequestReceived], None]
OnResponse = Callable[[ResponseReceived], None]
OnStray = Callable[[StrayResponse], None]


class SipStack:
    """Listens on ``host`` (UDP and/or TCP on one port) and runs a TransactionLayer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        transports: tuple[str, ...] = ("udp", "tcp"),
        timers: dict[str, TimerConfig] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.transports = tuple(t.lower() for t in transports)
        self.layer = TransactionLayer(timers)
        self.ids = IdSource(rng)
        self.on_request: OnRequest | None = None
        self.on_stray: OnStray | None = None
        self.on_response: OnResponse | None = None
        self.on_keepalive: Callable[[KeepAlive, Address, str], None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: UdpProtocol | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[Address, TcpConnection] = {}
        self._connecting: dict[Address, asyncio.Task[TcpConnection | None]] = {}
        self._pending: dict[TxKey, asyncio.Future[ResponseReceived]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> SipStack:
        loop = self._loop = asyncio.get_running_loop()
        if "udp" in self.transports:
            _, proto = await loop.create_datagram_endpoint(
                lambda: UdpProtocol(self._on_message, self._on_keepalive),
                local_addr=(self.host, self.port),
            )
            self._udp = proto
            assert proto.transport is not None
            self.port = proto.transport.get_extra_info("sockname")[1]
        if "tcp" in self.transports:
            self._server = await loop.create_server(
                self._new_connection, self.host, self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        for task in [*self._tasks, *self._connecting.values()]:
            task.cancel()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns.values()):
            conn.close()
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> SipStack:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def now(self) -> float:
        assert self._loop is not None, "stack not started"
        return self._loop.time()

    @property
    def rejected(self) -> int:
        """How many malformed messages were dropped."""
        udp = self._udp.rejected if self._udp else 0
        return udp + sum(c.rejected for c in self._conns.values())

    def local_address(self) -> Address:
        return (self.host, self.port)

    def via(self, transport: str) -> str:
        return via_value(transport, self.host, self.port, self.ids.branch())

    # --- the user's API -----------------------------------------------------------------
    def send(
        self, request: Request, dest: Address, transport: str
    ) -> asyncio.Future[ResponseReceived]:
        """Start a client transaction; the future gets the final response event, whose
        ``local`` flag marks a 408 (timeout) or 503 (transport error) made here."""
        assert self._loop is not None, "stack not started"
        if request.method == "ACK":
            raise ValueError("send an ACK with send_stateless()")
        key = self.layer.send_request(request, dest, transport.lower(), self.now)
        fut: asyncio.Future[ResponseReceived] = self._loop.create_future()
        self._pending[key] = fut
        self._pump()
        return fut

    async def transact(self, request: Request, dest: Address, transport: str) -> ResponseReceived:
        return await self.send(request, dest, transport)

    async def request(self, request: Request, dest: Address, transport: str) -> Response:
        return (await self.send(request, dest, transport)).response

    async def request_with_auth(
        self, request: Request, dest: Address, transport: str, credentials: DigestClient | None
    ) -> tuple[Request, Response]:
        """Send; answer one 401/407 challenge if credentials are given."""
        response = await self.request(request, dest, transport)
        if response.status in (401, 407) and credentials is not None:
            request = credentials.retry(
                request, response, branch=self.ids.branch(), cnonce=self.ids.cnonce()
            )
            response = await self.request(request, dest, transport)
        return request, response

    def respond(self, key: TxKey, response: Response) -> None:
        self.layer.send_response(response, self.now, key)
        self._pump()

    def send_stateless(self, message: Message, dest: Address, transport: str) -> None:
        self.layer.send_stateless(message, dest, transport.lower())
        self._pump()

    def send_keepalive(self, dest: Address, transport: str) -> None:
        """RFC 5626 keep-alive: a double CRLF ping (TCP) or a CRLF datagram (UDP)."""
        if transport.lower() == "udp":
            if self._udp is not None and self._udp.transport is not None:
                self._udp.transport.sendto(KeepAlive.PING.value, dest)
            return
        conn = self._conns.get(dest)
        if conn is not None and conn.open:
            conn.write(KeepAlive.PING.value)
        else:
            self.layer.transport_error(dest, "tcp", self.now)
            self._pump()

    def connected(self, dest: Address) -> bool:
        conn = self._conns.get(dest)
        return conn is not None and conn.open

    # --- driving the layer --------------------------------------------------------------
    def _on_message(self, message: Message, source: Address, transport: str) -> None:
        if self.closed:
            return
        try:
            self.layer.receive(message, source, transport, self.now)
        except Exception:  # a message that parses but breaks a state machine
            log.exception("dropped message from %s:%s", *source)
            return
        self._pump()

    def _on_keepalive(self, kind: KeepAlive, source: Address, transport: str) -> None:
        if self.on_keepalive is not None:
            self.on_keepalive(kind, source, transport)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self.layer.handle_timer(self.now)
        self._pump()

    def _pump(self) -> None:
        for out in self.layer.datagrams_to_send():
            self._transmit(out)
        while (event := self.layer.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                if self.on_response is not None:
                    self.on_response(event)
                if event.response.status >= 200:
                    fut = self._pending.pop(event.key, None)
                    if fut is not None and not fut.done():
                        fut.set_result(event)
            elif isinstance(event, RequestReceived):
                if self.on_request is not None:
                    self.on_request(event)
                elif event.key is not None and event.request.method != "ACK":
                    self.layer.send_response(make_response(event.request, 501), self.now, event.key)
            elif isinstance(event, StrayResponse) and self.on_stray is not None:
                self.on_stray(event)
        for out in self.layer.datagrams_to_send():
            self._transmit(out)
        self._arm()

    def _arm(self) -> None:
        deadline = self.layer.next_timer()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None and self._loop is not None and not self.closed:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _transmit(self, out: Outgoing) -> None:
        data = out.message.serialise()
        if out.transport == "udp":
            if self._udp is None or self._udp.transport is None:
                self._fail(out.dest, out.transport)
                return
            self._udp.transport.sendto(data, out.dest)
            return
        conn = self._conns.get(out.dest)
        if conn is not None and conn.open:
            conn.write(data)
            return
        task = asyncio.ensure_future(self._connect_and_send(out.dest, data))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_and_send(self, dest: Address, data: bytes) -> None:
        conn = await self._connection_to(dest)
        if conn is None:
            self._fail(dest, "tcp")
        else:
            conn.write(data)

    async def _connection_to(self, dest: Address) -> TcpConnection | None:
        pending = self._connecting.get(dest)
        if pending is None:
            pending = asyncio.ensure_future(self._connect(dest))
            self._connecting[dest] = pending
            pending.add_done_callback(lambda _: self._connecting.pop(dest, None))
        return await asyncio.shield(pending)

    async def _connect(self, dest: Address) -> TcpConnection | None:
        assert self._loop is not None
        try:
            _, conn = await asyncio.wait_for(
                self._loop.create_connection(
                    self._new_connection, dest[0], dest[1], local_addr=(self.host, 0)
                ),
                timeout=self.layer.timer_config("tcp").timeout,
            )
        except (OSError, TimeoutError) as exc:
            log.info("TCP connect to %s:%s failed: %s", *dest, exc)
            return None
        self._conns[conn.peer] = conn
        return conn

    def _new_connection(self) -> TcpConnection:
        conn = TcpConnection(self._on_message, self._on_keepalive, self._lost)
        orig = conn.connection_made

        def made(transport: asyncio.BaseTransport) -> None:
            orig(transport)
            self._conns[conn.peer] = conn

        conn.connection_made = made  # type: ignore[method-assign]
        return conn

    def _lost(self, conn: TcpConnection) -> None:
        if self._conns.get(conn.peer) is conn:
            del self._conns[conn.peer]
        if not self.closed:
            self._fail(conn.peer, "tcp")

    def _fail(self, dest: Address, transport: str) -> None:
        if self.closed:
            return
        self.layer.transport_error(dest, transport, self.now)
        self._pump()
