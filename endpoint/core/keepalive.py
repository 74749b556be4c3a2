"""Keep-alives: an Available connection with ``keepalive`` set sends OPTIONS (or a CRLF
ping over TCP) every ``keepalive_interval``; no answer within ``keepalive_timeout`` is a
sign its site is down. The phone's part, as a base of :class:`endpoint.core.phone.Phone`."""

from __future__ import annotations

from endpoint.config import EndpointConfig
from endpoint.core.connection import Connection
from endpoint.core.replies import failure_reason, keepalive_options
from endpoint.core.status import ConnectionStatus as C
from endpoint.core.timers import Deadlines
from endpoint.sip.events import Address, ResponseReceived, TxKey
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.message import Request


class KeepAlives:
    connections: dict[int, Connection]
    deadlines: Deadlines
    layer: TransactionLayer
    ids: IdSource
    local_host: str
    config: EndpointConfig
    _flows_out: set[tuple[Address, str]]

    def via(self, conn: Connection) -> str:
        raise NotImplementedError

    def send_request(
        self, request: Request, conn: Connection, now: float, *, what: str,
        timeout: float | None = None, branch: str | None = None,
    ) -> TxKey:  # fmt: skip
        raise NotImplementedError

    def mark_unavailable(self, conn: Connection, reason: str, code: int | None, now: float) -> None:
        raise NotImplementedError

    def flow_failed(self, conn: Connection) -> None:
        """``conn``'s connection failed without closing (no answer over it: a site that
        forgot it, a path that lost it): it is closed (:meth:`flows_to_close`), and the
        next request opens a new one (RFC 5626 §4.4)."""
        self._flows_out.add((conn.address, conn.transport))

    def flows_to_close(self) -> list[tuple[Address, str]]:
        out = sorted(self._flows_out)
        self._flows_out.clear()
        return out

    def keepalive_received(
        self, kind: KeepAlive, source: Address, transport: str, now: float
    ) -> None:
        if kind is not KeepAlive.PONG:
            return
        for conn in self.connections.values():
            if conn.address == source and self.deadlines.get(conn.id, "pong") is not None:
                self.deadlines.cancel(conn.id, "pong")
                self._schedule_keepalive(conn, now)

    def _schedule_keepalive(self, conn: Connection, now: float) -> None:
        if conn.keepalive is not None and conn.status is C.AVAILABLE:
            self.deadlines.set(conn.id, "keepalive", now + conn.keepalive_interval)

    def _send_keepalive(self, conn: Connection, now: float) -> None:
        if conn.keepalive == "crlf" and conn.reliable:
            self.layer.send_stateless(KeepAlive.PING, conn.address, conn.transport)
            if self.config.mutant != "ignores_pong":  # RFC 5626 4.4.1: no pong, flow failed
                self.deadlines.set(conn.id, "pong", now + conn.keepalive_timeout)
            return
        request = keepalive_options(conn, self.via(conn), self.ids, self.local_host)
        self.send_request(request, conn, now, what="keepalive", timeout=conn.keepalive_timeout)

    def _keepalive_answered(self, conn: Connection, event: ResponseReceived, now: float) -> None:
        if event.local:
            self.mark_unavailable(
                conn, f"keep-alive {failure_reason(event)}", event.response.status, now
            )
        else:
            self._schedule_keepalive(conn, now)
