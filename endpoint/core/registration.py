"""Registering: the REGISTER a connection sends, what its answer makes of the connection,
and how long a failed one waits before it tries again — ``retry_interval`` every time, or
RFC 5626 §4.5's flow recovery (``retry_backoff: rfc5626``): after the n-th failure in a
row, a random time between 50 and 100 % of min(max-time, base-time · 2^n), base-time 30 s
when every connection has failed and 90 s while another works, max-time 1800 s (the
RFC's values; each a setting). The phone's part, as a base of
:class:`endpoint.core.phone.Phone`."""

from __future__ import annotations

from endpoint.config import EndpointConfig
from endpoint.core.connection import Connection, requested_expires
from endpoint.core.locating import Locating
from endpoint.core.replies import answered_code, failure_reason, granted_expires, retry_after
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import ConnectionStatus as C
from endpoint.core.timers import Deadlines
from endpoint.sip.builder import build_register
from endpoint.sip.events import ResponseReceived
from endpoint.sip.ids import IdSource
from endpoint.sip.message import Request

MAX_DOUBLINGS = 64  # 2^n past this is past any max-time a setting allows


class Registrations(Locating):
    connections: dict[int, Connection]
    deadlines: Deadlines
    ids: IdSource
    config: EndpointConfig

    def contact(self, conn: Connection) -> str:
        raise NotImplementedError

    def _fresh_via(self, conn: Connection) -> tuple[str, str]:
        raise NotImplementedError

    def _set_status(
        self, conn: Connection, status: ConnectionStatus, reason: str, code: int | None, now: float
    ) -> None:
        raise NotImplementedError

    def retry_wait(self, conn: Connection) -> float:
        """How long ``conn`` waits before it registers again, after one more failure."""
        conn.failures += 1
        settings = conn.config
        if settings.retry_backoff != "rfc5626":
            return conn.retry_interval
        others_work = any(
            c is not conn and c.status is C.AVAILABLE for c in self.connections.values()
        )
        base = settings.backoff_base_one_ok if others_work else settings.backoff_base_all_failed
        ceiling = min(settings.backoff_max, base * 2.0 ** min(conn.failures, MAX_DOUBLINGS))
        if self.config.mutant == "lockstep":  # (a mutant's doing: every one at the ceiling)
            return ceiling
        return ceiling * self.ids.rng.uniform(0.5, 1.0)

    def _register(
        self,
        conn: Connection,
        now: float,
        *,
        expires: int | None = None,
        request: Request | None = None,
        located: bool = False,
    ) -> None:
        if request is None and expires is None and not located and not self.locate(conn, now):
            conn.registering = True  # once its name is resolved (_located)
            return
        branch = None  # known when the REGISTER is written here
        if request is None:
            conn.cseq += 1
            value = requested_expires(conn.reg_interval) if expires is None else expires
            branch, via = self._fresh_via(conn)
            request = build_register(
                conn.user,
                conn.aor_domain,
                via=via,
                tag=self.ids.tag(),
                call_id=conn.call_id,
                cseq=conn.cseq,
                contact=self.contact(conn),
                expires=value,
                extra=[("User-Agent", "geolab-endpoint")],
                scheme=conn.scheme,
            )
        what = "unregister" if request.headers.get("Expires") == "0" else "register"
        if what == "register" and conn.status is C.AVAILABLE and self.config.mutant == "flaps":
            self._set_status(conn, C.UNAVAILABLE, "flap", None, now)  # (a mutant's doing)
        conn.registering = what == "register"
        if conn.registering and request.headers.get("Authorization") is None:
            conn.sent_at = now
        self.send_request(request, conn, now, what=what, branch=branch)

    def _registered(self, conn: Connection, event: ResponseReceived, now: float) -> None:
        response, request = event.response, event.request
        conn.registering = False
        if 200 <= response.status < 300:
            conn.last_registration = now
            conn.last_error, conn.last_code, conn.failures = None, None, 0
            conn.granted_expires = granted_expires(response, self.contact(conn))
            self._set_status(conn, C.AVAILABLE, "registered", response.status, now)
            self.deadlines.cancel(conn.id, "retry")
            period = conn.reg_interval
            if conn.granted_expires:
                period = min(period, conn.granted_expires * 0.9)
            self.deadlines.set(conn.id, "refresh", max(now, conn.sent_at + period))
            self._schedule_keepalive(conn, now)
            return
        if (
            response.status in (401, 407)
            and conn.auth is not None
            and not event.local
            and (
                request.headers.get("Authorization") is None
                and request.headers.get("Proxy-Authorization") is None
            )
        ):
            conn.cseq += 1
            retry = conn.auth.retry(
                request, response, branch=self.ids.branch(), cnonce=self.ids.cnonce()
            )
            self._register(conn, now, request=retry)
            return
        minimum = (response.headers.get("Min-Expires") or "").strip()
        if response.status == 423 and minimum.isdigit() and self.config.mutant != "ignores_423":
            self._register(conn, now, expires=int(minimum))
            return
        if event.local and response.status == 408 and conn.reliable:
            self.flow_failed(conn)  # RFC 5626 §4.4: a timed-out request: the flow failed
        if (event.local or response.status == 503) and self.next_target(conn):
            self._register(conn, now, located=True)  # RFC 3263 4.3: the name's next target
            return
        reason, code = failure_reason(event), answered_code(event, self.config.mutant)
        self._failed(conn, reason, code, now, None if event.local else retry_after(response))

    def _located(self, conn: Connection, now: float) -> None:
        conn.registering = False
        if conn.dns_error is not None:  # no target: as a site that is down
            self._failed(conn, conn.dns_error, None, now, None)
        else:
            self._register(conn, now, located=True)

    def _failed(
        self, conn: Connection, reason: str, code: int | None, now: float, asked: int | None
    ) -> None:
        """A registration failed: Unavailable, and a retry after the wait (at least what the
        site asked for, ``asked`` s)."""
        conn.last_error, conn.last_code = reason, code
        self.deadlines.cancel(conn.id, "refresh")
        self.deadlines.cancel(conn.id, "keepalive")
        if conn.status in (C.REGISTERING, C.AVAILABLE):
            self._set_status(conn, C.UNAVAILABLE, reason, code, now)
        wait = self.retry_wait(conn)
        if asked is not None and self.config.mutant != "ignores_retry_after":
            wait = max(wait, float(asked))  # RFC 3261 21.5.4: not before then
        if self.config.mutant != "never_retries":
            self.deadlines.set(conn.id, "retry", now + wait)
