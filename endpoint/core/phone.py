"""The phone: several connections, each registered on its own site, with equal priority.

Sans-I/O like the SIP core under it. Inputs: ``receive(message, source, transport, now)``,
``keepalive_received``, ``transport_failed``, ``connection_lost``, ``handle_timer(now)`` and
the API calls (``add_connection``, ``dial`` …), each with ``now``. Outputs:
``datagrams_to_send()``, ``next_event()`` and ``next_timer()``.

Connection behaviour (after the SIP Endpoint SDK's disaster-recovery mode): every enabled
connection registers at start-up at once; a success makes it Available, a failure
(timeout, transport error, 5xx/6xx or any other final refusal) Unavailable; an Unavailable
connection retries every ``retry_interval`` until it succeeds or is disabled or removed;
every ``reg_interval`` the registration is renewed and the result decides the status again.
Every status change raises exactly one ConnectionStatusChanged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Hashable

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.calls import CallControl
from endpoint.core.connection import Connection, timers_for
from endpoint.core.events import ConnectionStatusChanged, PhoneEvent
from endpoint.core.registration import Registrations
from endpoint.core.rfc3263 import DnsQuery
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import ConnectionStatus as C
from endpoint.core.timers import Deadlines
from endpoint.sip.errors import LocalProtocolError, SipError
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

log = logging.getLogger("endpoint.phone")


class Phone(Registrations):
    def __init__(
        self,
        config: EndpointConfig,
        *,
        local_host: str,
        local_port: int,
        ids: IdSource | None = None,
    ) -> None:
        self.config = config
        self.local_host = local_host
        self.local_port = local_port
        self.ids = ids or IdSource()
        self.layer = TransactionLayer()
        self.connections: dict[int, Connection] = {}
        self.deadlines = Deadlines()
        self.calls = CallControl(self)
        self._events: deque[PhoneEvent] = deque()
        self._owners: dict[TxKey, tuple[str, int, int]] = {}  # key -> (what, conn, generation)
        self._dns_out: list[DnsQuery] = []
        self._dns_owner: dict[int, tuple[int, int]] = {}
        self._dns_next = 1
        self._flows_out: set[tuple[Address, str]] = set()
        self.started = False

    # --- the API --------------------------------------------------------------------------
    def start(self, now: float) -> None:
        """Register every enabled connection, all at once."""
        self.started = True
        for cfg in self.config.connections:
            self._add(cfg, now)

    def add_connection(self, cfg: ConnectionConfig, now: float) -> Connection:
        if cfg.id in self.connections:
            raise LocalProtocolError(f"connection {cfg.id} exists already")
        return self._add(cfg, now)

    def enable_connection(self, conn_id: int, now: float) -> None:
        conn = self.connection(conn_id)
        if conn.status is C.DISABLED:
            self._set_status(conn, C.REGISTERING, "enabled", None, now)
            self._register(conn, now)

    def disable_connection(self, conn_id: int, now: float) -> None:
        conn = self.connection(conn_id)
        if conn.status is C.DISABLED:
            return
        self._retire(conn, now)
        self._set_status(conn, C.DISABLED, "disabled", None, now)

    def remove_connection(self, conn_id: int, now: float) -> None:
        conn = self.connection(conn_id)
        self._retire(conn, now)
        self._set_status(conn, C.REMOVED, "removed", None, now)
        del self.connections[conn_id]

    def connection(self, conn_id: int) -> Connection:
        try:
            return self.connections[conn_id]
        except KeyError:
            raise LocalProtocolError(f"no connection {conn_id}") from None

    def shutdown(self, now: float) -> None:
        """Unregister every Available connection (quit)."""
        for conn in list(self.connections.values()):
            self._retire(conn, now)

    # --- inputs from the network ---------------------------------------------------------
    def receive(self, message: Message, source: Address, transport: str, now: float) -> None:
        try:
            self.layer.receive(message, source, transport, now)
        except SipError as exc:
            log.warning("dropped message from %s:%s: %s", *source, exc)
        self._drain_layer(now)

    def transport_failed(self, dest: Address, transport: str, now: float, why: str = "") -> None:
        """Sending to ``dest`` failed (a TCP connect refused, a TLS certificate refused:
        ``why`` says so)."""
        self.layer.transport_error(dest, transport, now, why)
        self._drain_layer(now)

    def connection_lost(self, dest: Address, now: float, transport: str = "tcp") -> None:
        """An established TCP or TLS connection to ``dest`` closed: re-register over a new
        one."""
        self.layer.transport_error(dest, transport, now)
        for conn in self.connections.values():
            up = conn.transport == transport and conn.status is C.AVAILABLE
            forgets = self.config.mutant == "forgets_reregister"
            if conn.address == dest and up and not conn.registering and not forgets:
                self._register(conn, now)
        self._drain_layer(now)

    def tls_settings(self, dest: Address) -> tuple[str | None, str] | None:
        """For a TLS connection to ``dest``: the CA bundle its certificate must chain to
        and the name it must carry (the first connection there that uses TLS)."""
        for conn in self.connections.values():
            if conn.address == dest and conn.transport in ("tls", "wss"):
                return conn.config.tls_ca, conn.config.server_name
        return None

    def handle_timer(self, now: float) -> None:
        self.layer.handle_timer(now)
        self._drain_layer(now)
        for owner, name in self.deadlines.pop_due(now):
            if isinstance(owner, int) and owner in self.connections:
                self._connection_timer(self.connections[owner], name, now)
            elif isinstance(owner, str):
                self.calls.timer(owner, name, now)
        self._drain_layer(now)

    # --- outputs ---------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        layer, own = self.layer.next_timer(), self.deadlines.next()
        if layer is None or own is None:
            return own if layer is None else layer
        return layer if layer < own else own

    def datagrams_to_send(self) -> list[Outgoing]:
        return self.layer.datagrams_to_send()

    def next_event(self) -> PhoneEvent | None:
        return self._events.popleft() if self._events else None

    def pending(self, what: str) -> int:
        """How many transactions of a kind ("register", "unregister" …) await an answer."""
        return sum(1 for owner in self._owners.values() if owner[0] == what)

    def emit(self, event: PhoneEvent) -> None:
        self._events.append(event)

    # --- the port CallControl is given (endpoint.core.port.CallPort) ---------------------
    def send_response(self, response: Response, now: float, key: TxKey | None) -> None:
        self.layer.send_response(response, now, key)

    def send_stateless(self, message: Message | KeepAlive, dest: Address, transport: str) -> None:
        self.layer.send_stateless(message, dest, transport)

    def abandon(self, key: TxKey) -> None:
        self.layer.abandon(key)

    def in_progress(self, key: TxKey) -> bool:
        return key in self.layer.transactions

    def set_deadline(self, owner: Hashable, name: str, when: float) -> None:
        self.deadlines.set(owner, name, when)

    def cancel_deadline(self, owner: Hashable, name: str | None = None) -> None:
        self.deadlines.cancel(owner, name)

    def contact(self, conn: Connection) -> str:
        return conn.contact

    def via(self, conn: Connection) -> str:
        return self._fresh_via(conn)[1]

    def _fresh_via(self, conn: Connection) -> tuple[str, str]:
        """A new branch, and our Via for ``conn`` carrying it."""
        branch = self.ids.branch()
        head, tail = conn.via_around
        return branch, head + branch + tail

    def send_request(
        self,
        request: Request,
        conn: Connection,
        now: float,
        *,
        what: str,
        timeout: float | None = None,
        branch: str | None = None,
    ) -> TxKey:
        timers = timers_for(timeout) if timeout is not None else conn.timers
        if self.config.mutant == "no_retransmissions":  # (a mutant's doing)
            timers = dataclasses.replace(timers, retransmit=False)
        key = self.layer.send_request(
            request, conn.address, conn.transport, now, timers=timers, branch=branch
        )
        self._owners[key] = (what, conn.id, conn.generation)
        return key

    def mark_unavailable(self, conn: Connection, reason: str, code: int | None, now: float) -> None:
        """A sign the site is down (a timed-out INVITE, a failed keep-alive)."""
        if conn.status is C.AVAILABLE and not conn.registering and self.next_target(conn):
            for name in ("refresh", "keepalive", "pong"):  # RFC 3263 4.3: the next target
                self.deadlines.cancel(conn.id, name)
            self._register(conn, now, located=True)
            return
        if conn.status in (C.AVAILABLE, C.REGISTERING):
            conn.last_error, conn.last_code = reason, code
            self._set_status(conn, C.UNAVAILABLE, reason, code, now)
            self.deadlines.cancel(conn.id, "refresh")
            self.deadlines.cancel(conn.id, "keepalive")
            self.deadlines.cancel(conn.id, "pong")
            if not conn.registering and self.config.mutant != "never_retries":
                self.deadlines.set(conn.id, "retry", now + self.retry_wait(conn))

    # --- internals -------------------------------------------------------------------------
    def _add(self, cfg: ConnectionConfig, now: float) -> Connection:
        conn = Connection(
            cfg, call_id=self.ids.call_id(self.local_host), local=(self.local_host, self.local_port)
        )
        self.connections[cfg.id] = conn
        if cfg.enabled:
            conn.status = C.REGISTERING
            self._emit_status(conn, C.REGISTERING, None, "start", None, now)
            self._register(conn, now)
        else:
            self._emit_status(conn, C.DISABLED, None, "disabled in configuration", None, now)
        return conn

    def _set_status(
        self, conn: Connection, status: ConnectionStatus, reason: str, code: int | None, now: float
    ) -> None:
        previous = conn.move(status)
        if previous is not None:
            self._emit_status(conn, status, previous, reason, code, now)

    def _emit_status(
        self,
        conn: Connection,
        status: ConnectionStatus,
        previous: ConnectionStatus | None,
        reason: str,
        code: int | None,
        now: float,
    ) -> None:
        self.emit(ConnectionStatusChanged(conn.id, status, previous, reason, code, now))

    def _retire(self, conn: Connection, now: float) -> None:
        """Stop everything a connection does; unregister if the site is reachable."""
        if conn.status is C.AVAILABLE:
            self._register(conn, now, expires=0)
        self.deadlines.cancel(conn.id)
        conn.generation += 1
        conn.registering = False
        conn.resolution = None  # its answers, late, are the old generation's

    def _drain_layer(self, now: float) -> None:
        while (event := self.layer.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                owner = self._owners.get(event.key)
                if event.response.status >= 200:
                    self._owners.pop(event.key, None)
                if owner is None:
                    continue
                what, conn_id, generation = owner
                conn = self.connections.get(conn_id)
                if what in ("register", "keepalive") and (
                    conn is None or conn.generation != generation
                ):
                    continue  # the connection was disabled or removed meanwhile
                if what == "register" and conn is not None:
                    self._registered(conn, event, now)
                elif what == "keepalive" and conn is not None:
                    self._keepalive_answered(conn, event, now)
                elif what.startswith("call:"):
                    self.calls.response(what.removeprefix("call:"), event, now)
            elif isinstance(event, RequestReceived):
                self._request(event, now)
            elif isinstance(event, StrayResponse):
                self.calls.stray(event, now)

    def _request(self, event: RequestReceived, now: float) -> None:
        request = event.request
        if self.calls.request(event, now):
            return
        if event.key is None:
            return  # an ACK nobody waits for
        if request.method == "OPTIONS":
            response = make_response(request, 200, to_tag=self.ids.tag())
            response.headers.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
        else:
            response = make_response(request, 405, to_tag=self.ids.tag())
            response.headers.add("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")
        self.layer.send_response(response, now, event.key)

    def _connection_timer(self, conn: Connection, name: str, now: float) -> None:
        if name in ("refresh", "retry"):
            if not conn.registering:
                self._register(conn, now)
        elif name == "keepalive":
            self._send_keepalive(conn, now)
        elif name == "pong":
            if self.config.mutant != "ignores_pong":
                self.flow_failed(conn)
            self.mark_unavailable(conn, "keep-alive timeout", 408, now)
