"""The sockets under a sans-I/O SIP core: one UDP socket and TCP connections (inbound and
outbound, reused per peer address), all bound to one local address; TLS and WebSocket
(ws, wss) connections outbound (a TLS peer's certificate checked as ``tls_peer`` says)
and, for a site, inbound: TLS on ``tls_port`` (given a server context), ws on ``ws_port``
and wss on ``wss_port`` (each None: not offered)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from endpoint.aio.resolve import ask
from endpoint.aio.tls import TlsPeer, TlsSettingsError, client_context, refusal
from endpoint.aio.transport import (
    OnKeepAlive,
    OnMessage,
    TcpConnection,
    UdpProtocol,
    WsConnection,
)
from endpoint.core.rfc3263 import DnsAnswer, DnsQuery
from endpoint.sip.events import Address, Outgoing
from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message

log = logging.getLogger("endpoint.sockets")


UDP_RECEIVE_BUFFER = 1 << 20
BIND_ATTEMPTS = 20


class Sockets:
    def __init__(
        self,
        host: str,
        port: int,
        transports: tuple[str, ...],
        *,
        on_message: OnMessage,
        on_failure: Callable[..., None],
        on_keepalive: OnKeepAlive | None = None,
        on_lost: Callable[[Address, str], None] | None = None,
        connect_timeout: float = 5.0,
        tls_peer: Callable[[Address], TlsPeer | None] | None = None,
        tls_server: ssl.SSLContext | None = None,
        tls_port: int = 0,
        ws_port: int | None = None,
        wss_port: int | None = None,
    ) -> None:
        """``on_failure(dest, transport[, why])``: sending failed (``why`` when a TLS
        handshake was refused); ``on_lost(peer, transport)``: an open connection closed."""
        self.host = host
        self.port = port
        self.transports = tuple(t.lower() for t in transports)
        self.on_message = on_message
        self.on_failure = on_failure
        self.on_keepalive = on_keepalive
        self.on_lost = on_lost
        self.connect_timeout = connect_timeout
        self.tls_peer = tls_peer
        self.tls_server = tls_server
        self.tls_port = tls_port
        self.ws_port = ws_port
        self.wss_port = wss_port
        self._tls_listener: asyncio.Server | None = None
        self._ws_listeners: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._udp: UdpProtocol | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[Address, TcpConnection] = {}
        self._connecting: dict[Address, asyncio.Task[tuple[TcpConnection | None, str]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def start(self) -> None:
        """Bind UDP and TCP to one port. With port 0 the system picks the UDP port, and
        that number may be taken for TCP (by another socket's ephemeral port): then try
        another."""
        wanted = self.port
        for attempt in range(1, BIND_ATTEMPTS + 1):
            try:
                await self._bind()
                return
            except OSError as exc:
                if wanted != 0 or exc.errno != errno.EADDRINUSE or attempt == BIND_ATTEMPTS:
                    raise
                log.debug("port %s taken for TCP on %s; another", self.port, self.host)
                if self._udp is not None and self._udp.transport is not None:
                    self._udp.transport.close()
                self._udp, self.port = None, 0
                await asyncio.sleep(0)  # the transport lets its socket go on the next pass

    async def _bind(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        if "udp" in self.transports:
            _, proto = await loop.create_datagram_endpoint(
                lambda: UdpProtocol(self._message, self._keepalive),
                local_addr=(self.host, self.port),
            )
            self._udp = proto
            assert proto.transport is not None
            sock = proto.transport.get_extra_info("socket")
            with contextlib.suppress(OSError):  # room for a burst of answers (capped by rmem_max)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
            self.port = proto.transport.get_extra_info("sockname")[1]
        if "tcp" in self.transports:
            self._server = await loop.create_server(
                self._new_connection, self.host, self.port, reuse_address=True
            )
            if not self._server.sockets:  # asyncio skips a socket it could not create
                self._server.close()
                self._server = None
                raise OSError(
                    errno.EMFILE, f"no TCP socket on {self.host}:{self.port} (open files limit?)"
                )
            self.port = self._server.sockets[0].getsockname()[1]
        if "tls" in self.transports and self.tls_server is not None:
            self._tls_listener = await loop.create_server(
                lambda: self._new_connection("tls"), self.host, self.tls_port,
                reuse_address=True, ssl=self.tls_server,
                ssl_handshake_timeout=self.connect_timeout,
            )  # fmt: skip
            self.tls_port = self._tls_listener.sockets[0].getsockname()[1]
        if "ws" in self.transports and self.ws_port is not None:
            ws = await loop.create_server(
                lambda: self._new_connection("ws"), self.host, self.ws_port, reuse_address=True
            )
            self._ws_listeners.append(ws)
            self.ws_port = ws.sockets[0].getsockname()[1]
        if "wss" in self.transports and self.wss_port is not None and self.tls_server:
            wss = await loop.create_server(
                lambda: self._new_connection("wss"), self.host, self.wss_port,
                reuse_address=True, ssl=self.tls_server,
                ssl_handshake_timeout=self.connect_timeout,
            )  # fmt: skip
            self._ws_listeners.append(wss)
            self.wss_port = wss.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in [*self._tasks, *self._connecting.values()]:
            task.cancel()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        servers = [s for s in (self._server, self._tls_listener) if s is not None]
        servers += self._ws_listeners
        for server in servers:
            server.close()
        for conn in list(self._conns.values()):
            conn.close()
        for server in servers:
            await server.wait_closed()
        await asyncio.sleep(0)  # transports release their sockets on the next loop pass

    async def ask(self, query: DnsQuery, server: str | None, timeout: float) -> DnsAnswer:
        """A DNS question of the core's, of ``server`` (or the system's resolver)."""
        source = self.host if self.host != "0.0.0.0" else "127.0.0.1"
        return await ask(query, server, timeout, source)

    @property
    def rejected(self) -> int:
        udp = self._udp.rejected if self._udp else 0
        return udp + sum(c.rejected for c in self._conns.values())

    def connected(self, dest: Address) -> bool:
        conn = self._conns.get(dest)
        return conn is not None and conn.open

    def drop_connection(self, dest: Address) -> None:
        conn = self._conns.get(dest)
        if conn is not None:
            conn.close()

    def _message(self, message: Message, source: Address, transport: str) -> None:
        if not self.closed:
            self.on_message(message, source, transport)

    def _keepalive(self, kind: KeepAlive, source: Address, transport: str) -> None:
        if not self.closed and self.on_keepalive is not None:
            self.on_keepalive(kind, source, transport)

    def transmit(self, out: Outgoing) -> None:
        if self.closed:
            return
        msg = out.message
        data = msg.value if isinstance(msg, KeepAlive) else msg.serialise()
        if out.transport == "udp":
            if self._udp is None or self._udp.transport is None:
                self.on_failure(out.dest, out.transport)
                return
            self._udp.transport.sendto(data, out.dest)
            return
        conn = self._conns.get(out.dest)
        if conn is not None and conn.open:
            conn.write(data)
            return
        if isinstance(msg, KeepAlive):  # a keep-alive never opens a connection
            self.on_failure(out.dest, out.transport)
            return
        name = out.transport if out.transport in ("tls", "ws", "wss") else "tcp"
        task = asyncio.ensure_future(self._connect_and_send(out.dest, data, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_and_send(self, dest: Address, data: bytes, name: str) -> None:
        conn, why = await self._connection_to(dest, name)
        if conn is None:
            if self.closed:
                return
            if why:
                self.on_failure(dest, name, why)
            else:
                self.on_failure(dest, name)
        else:
            conn.write(data)

    async def _connection_to(self, dest: Address, name: str) -> tuple[TcpConnection | None, str]:
        pending = self._connecting.get(dest)
        if pending is None:
            pending = asyncio.ensure_future(self._connect(dest, name))
            self._connecting[dest] = pending
            pending.add_done_callback(lambda _: self._connecting.pop(dest, None))
        return await asyncio.shield(pending)

    async def _connect(self, dest: Address, name: str) -> tuple[TcpConnection | None, str]:
        """A new connection to ``dest`` (a TLS one verified, a WebSocket one upgraded), or
        None and why not."""
        assert self._loop is not None
        peer: TlsPeer | None = None
        if name in ("tls", "wss"):
            peer = self.tls_peer(dest) if self.tls_peer is not None else None
            peer = peer or TlsPeer(None, dest[0])
        try:
            context = client_context(peer.ca_file) if peer is not None else None
            host = f"{peer.server_name if peer is not None else dest[0]}:{dest[1]}"
            _, conn = await asyncio.wait_for(
                self._loop.create_connection(
                    lambda: self._new_connection(name, client=True, host=host), dest[0], dest[1],
                    local_addr=(self.host, 0), ssl=context,
                    server_hostname=peer.server_name if peer is not None else None,
                    ssl_handshake_timeout=self.connect_timeout if peer is not None else None,
                ),
                timeout=self.connect_timeout,
            )  # fmt: skip
        except (OSError, TimeoutError, TlsSettingsError) as exc:
            why = refusal(exc, peer.server_name) if peer is not None else ""
            log.info("%s connect to %s:%s failed: %s", name.upper(), *dest, why or exc)
            return None, why
        if not conn.open:  # reset as soon as it was made: as if refused
            log.info("%s connect to %s:%s: reset at once", name.upper(), *dest)
            return None, ""
        if isinstance(conn, WsConnection):
            try:
                why = await asyncio.wait_for(asyncio.shield(conn.opened), self.connect_timeout)
            except TimeoutError:
                why = "no answer to the WebSocket upgrade"
            if why:
                log.info("%s upgrade at %s:%s failed: %s", name.upper(), *dest, why)
                conn.close()
                return None, why
        self._conns[conn.peer] = conn
        return conn, ""

    def _new_connection(
        self, name: str = "tcp", *, client: bool = False, host: str = ""
    ) -> TcpConnection:
        conn: TcpConnection
        if name in ("ws", "wss"):
            conn = WsConnection(self._message, self._keepalive, self._lost, name,
                                client=client, host=host)  # fmt: skip
        else:
            conn = TcpConnection(self._message, self._keepalive, self._lost, name)
        conn.on_made = self._made
        return conn

    def _made(self, conn: TcpConnection) -> None:
        """A connection files itself under its peer address once it is up."""
        self._conns[conn.peer] = conn

    def _lost(self, conn: TcpConnection) -> None:
        if self._conns.get(conn.peer) is conn:
            del self._conns[conn.peer]
        if self.closed:
            return
        if isinstance(conn, WsConnection) and conn.opened.result():
            return  # never upgraded: no connection was lost (the connect says it failed)
        if self.on_lost is not None:
            self.on_lost(conn.peer, conn.name)
        else:
            self.on_failure(conn.peer, conn.name)

