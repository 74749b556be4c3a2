"""Calls: 1pcc outbound dialing with failover, 3pcc inbound ringing and answering, hold.

- ``dial(connection, destination)`` sends the INVITE through that connection's site; if
  the connection is not Available the call goes out on another Available one at once.
  When the INVITE times out (no answer from the site within ``invite_timeout``, or the
  transaction's own 408) or fails at transport level, the connection is marked
  Unavailable and, with ``failover`` on, the call is placed again through another site.
- Placing or answering a call puts every other active call on hold (re-INVITE,
  ``a=sendonly``). A second inbound call rings while the first is on.
- An inbound call belongs to the connection whose site it came through.
- A disconnect carries a reason; ``SipError`` with code 408 / "Request Timeout" means
  the site did not answer.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING

from endpoint.core.connection import Connection
from endpoint.core.events import ConnectionStatus, SessionStatus, SessionStatusChanged
from endpoint.core.session import Session
from endpoint.sip.builder import build_request, same_branch_request
from endpoint.sip.errors import LocalProtocolError, ParseError
from endpoint.sip.events import RequestReceived, ResponseReceived, StrayResponse
from endpoint.sip.headers import Headers
from endpoint.sip.message import Request, Response, make_response
from endpoint.sip.sdp import Sdp, parse_sdp
from endpoint.sip.uri import URI, SipURI, parse_uri

if TYPE_CHECKING:
    from endpoint.core.phone import Phone

log = logging.getLogger("endpoint.calls")
S = SessionStatus
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"


class CallControl:
    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.sessions: dict[str, Session] = {}
        self._numbers = itertools.count(1)

    # --- API ------------------------------------------------------------------------------
    def dial(self, conn_id: int, destination: str, now: float) -> str:
        self.phone.connection(conn_id)  # raises for an unknown connection
        n = next(self._numbers)
        sid = f"s{n}"
        session = Session(
            id=sid,
            direction="outbound",
            connection=conn_id,
            requested_connection=conn_id,
            destination=destination,
            remote=destination,
            local_sdp=Sdp(address=self.phone.local_host, port=40000 + 2 * n, session_id=n),
        )
        self.sessions[sid] = session
        self._hold_others(sid, now)
        conn = self._pick(conn_id, exclude=set())
        if conn is None:
            self._status(session, S.DIALING, now, reason="dial")
            self._disconnect(session, "NoAvailableConnection", None, now)
        else:
            self._invite(session, conn, now, reason="dial")
        return sid

    def answer(self, sid: str, now: float) -> None:
        s = self.session(sid)
        if s.direction != "inbound" or s.status is not S.RINGING or s.invite is None:
            raise LocalProtocolError(f"session {sid} is not an inbound call ringing")
        self._hold_others(sid, now)
        offer = s.remote_sdp or Sdp(address=self.phone.local_host, port=9)
        s.local_sdp = offer.answer(
            address=self.phone.local_host, port=s.local_sdp.port, session_id=s.local_sdp.session_id
        )
        response = self._response(s, s.invite, 200)
        response.body = s.local_sdp.serialise()
        response.headers.add("Content-Type", "application/sdp")
        self._send_2xx(s, response, now)

    def hangup(self, sid: str, now: float) -> None:
        s = self.session(sid)
        if s.ended:
            return
        conn = self.phone.connections.get(s.connection)
        if s.status in (S.DIALING, S.RINGING) and s.direction == "outbound":
            if s.invite is not None and conn is not None:
                self._send(s, conn, self._cancel(s.invite), now, "cancel")
        elif s.status is S.RINGING and s.direction == "inbound" and s.invite_key is not None:
            assert s.invite is not None
            self.phone.layer.send_response(self._response(s, s.invite, 603), now, s.invite_key)
        elif conn is not None and s.remote_target is not None:
            self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
        self._disconnect(s, "LocalHangup", None, now)

    def hold(self, sid: str, now: float) -> None:
        s = self.session(sid)
        if s.status is not S.ESTABLISHED or s.held or s.pending:
            raise LocalProtocolError(f"session {sid} cannot be held in status {s.status}")
        self._reinvite(s, "hold", now)

    def resume(self, sid: str, now: float) -> None:
        s = self.session(sid)
        if s.status is not S.ON_HOLD or not s.held or s.pending:
            raise LocalProtocolError(f"session {sid} cannot be resumed in status {s.status}")
        self._reinvite(s, "resume", now)

    def session(self, sid: str) -> Session:
        try:
            return self.sessions[sid]
        except KeyError:
            raise LocalProtocolError(f"no session {sid!r}") from None

    # --- outbound -------------------------------------------------------------------------
    def _pick(self, requested: int, exclude: set[int]) -> Connection | None:
        conns = self.phone.connections
        order = [requested, *sorted(c for c in conns if c != requested)]
        for cid in order:
            conn = conns.get(cid)
            if (
                conn is not None
                and cid not in exclude
                and conn.status is ConnectionStatus.AVAILABLE
            ):
                return conn
        conn = conns.get(requested)
        if (
            conn is not None
            and requested not in exclude
            and conn.status is ConnectionStatus.REGISTERING
        ):
            return conn
        return None

    def target(self, conn: Connection, destination: str) -> URI:
        if destination.startswith(("sip:", "sips:")):
            return parse_uri(destination, "destination")
        return SipURI(user=destination, host=conn.config.aor_domain)

    def _invite(self, s: Session, conn: Connection, now: float, *, reason: str) -> None:
        s.connection = conn.id
        s.tried.add(conn.id)
        s.call_id = self.phone.ids.call_id(self.phone.local_host)
        s.local_tag = self.phone.ids.tag()
        s.local_cseq = 1
        s.authed = False
        uri = self.target(conn, s.destination)
        s.remote = str(uri)
        display = f'"{self.phone.config.display_name}" ' if self.phone.config.display_name else ""
        s.from_value = f"{display}<{conn.aor}>;tag={s.local_tag}"
        s.to_value = f"<{uri}>"
        request = build_request(
            "INVITE",
            uri,
            via=self.phone.via(conn),
            from_=s.from_value,
            to=s.to_value,
            call_id=s.call_id,
            cseq=s.local_cseq,
            contact=self.phone.contact(conn),
            extra=[("Allow", ALLOW), ("User-Agent", "geolab-endpoint")],
            body=s.local_sdp.serialise(),
            content_type="application/sdp",
        )
        self._send_invite(s, conn, request, now)
        previous = s.status
        self._status(s, S.DIALING, now, reason=reason, force=previous is S.DIALING)

    def _send_invite(self, s: Session, conn: Connection, request: Request, now: float) -> None:
        s.invite = request
        s.invite_key = self._send(s, conn, request, now, "invite")
        self.phone.deadlines.set(s.id, "invite", now + self.phone.config.invite_timeout)

    def _site_down(self, s: Session, reason: str, code: int, now: float) -> None:
        conn = self.phone.connections.get(s.connection)
        if conn is not None:
            self.phone.mark_unavailable(conn, reason, code, now)
        nxt = (
            self._pick(s.requested_connection, exclude=s.tried)
            if self.phone.config.failover
            else None
        )
        if nxt is not None and nxt.status is ConnectionStatus.AVAILABLE:
            self._invite(s, nxt, now, reason="failover")
        else:
            self._disconnect(
                s, "SipError", code, now, phrase="Request Timeout" if code == 408 else reason
            )

    def response(self, what: str, event: ResponseReceived, now: float) -> None:
        sid, _, kind = what.partition(":")
        s = self.sessions.get(sid)
        if s is None:
            return
        if kind == "invite":
            self._invite_response(s, event, now)
        elif kind == "reinvite":
            self._reinvite_response(s, event, now)
        elif kind in ("bye", "cancel") and event.local:
            conn = self.phone.connections.get(s.connection)
            if conn is not None:
                reason = "timeout" if event.response.status == 408 else "transport error"
                self.phone.mark_unavailable(
                    conn, f"{kind.upper()} {reason}", event.response.status, now
                )

    def _invite_response(self, s: Session, event: ResponseReceived, now: float) -> None:
        response = event.response
        if event.request is not s.invite and event.request.call_id != s.call_id:
            return  # an answer to an INVITE this session gave up on
        status = response.status
        self.phone.deadlines.cancel(s.id, "invite")
        if 200 <= status < 300:
            self._accept(s, response, now)
            return
        if s.ended:
            return
        if status < 200:
            if status in (180, 183) and s.status is S.DIALING:
                self._status(s, S.RINGING, now, reason=str(status), code=status)
            return
        conn = self.phone.connections.get(s.connection)
        if status in (401, 407) and conn is not None and conn.auth is not None and not s.authed:
            s.authed = True
            s.local_cseq += 1
            retry = conn.auth.retry(
                event.request,
                response,
                branch=self.phone.ids.branch(),
                cnonce=self.phone.ids.cnonce(),
            )
            self._send_invite(s, conn, retry, now)
            return
        if event.local:
            reason = "INVITE timeout" if status == 408 else "INVITE transport error"
            self._site_down(s, reason, status, now)
            return
        self._disconnect(s, "SipError", status, now, phrase=response.reason)

    def _accept(self, s: Session, response: Response, now: float) -> None:
        conn = self.phone.connections.get(s.connection)
        if s.status in (S.ESTABLISHED, S.ON_HOLD) and s.ack is not None and conn is not None:
            self.phone.layer.send_stateless(s.ack, conn.address, conn.transport)  # re-ACK
            return
        s.to_value = response.headers.get("To") or s.to_value
        contacts = response.contacts
        s.remote_target = contacts[0].uri if contacts else (s.invite.uri if s.invite else None)
        s.route_set = list(reversed(response.headers.get_all("Record-Route")))
        if response.body:
            try:
                s.remote_sdp = parse_sdp(response.body)
            except ParseError as exc:
                log.warning("session %s: unreadable SDP answer: %s", s.id, exc)
        if conn is None:
            return
        s.ack = self._in_dialog(s, "ACK", cseq=s.invite.cseq.seq if s.invite else 1)
        self.phone.layer.send_stateless(s.ack, conn.address, conn.transport)
        if s.ended:  # hung up while it was ringing: end it properly
            self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
            return
        self._status(s, S.ESTABLISHED, now, reason="answered", code=response.status)

    def stray(self, event: StrayResponse, now: float) -> None:
        response = event.response
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        for s in self.sessions.values():
            if s.call_id == response.call_id and s.ack is not None:
                conn = self.phone.connections.get(s.connection)
                if conn is not None:
                    self.phone.layer.send_stateless(s.ack, conn.address, conn.transport)

    # --- hold -----------------------------------------------------------------------------
    def _hold_others(self, sid: str, now: float) -> None:
        for other in self.sessions.values():
            if (
                other.id != sid
                and other.status is S.ESTABLISHED
                and not other.held
                and not other.pending
            ):
                self._reinvite(other, "hold", now)

    def _reinvite(self, s: Session, intent: str, now: float) -> None:
        conn = self.phone.connections.get(s.connection)
        if conn is None or s.remote_target is None:
            return
        direction = "sendonly" if intent == "hold" else "sendrecv"
        s.local_sdp = s.local_sdp.with_direction(direction)
        request = self._in_dialog(s, "INVITE", body=s.local_sdp.serialise())
        request.headers.add("Contact", self.phone.contact(conn))
        request.headers.add("Content-Type", "application/sdp")
        s.pending = intent
        s.reinvite = request
        self._send(s, conn, request, now, "reinvite")

    def _reinvite_response(self, s: Session, event: ResponseReceived, now: float) -> None:
        response = event.response
        if response.status < 200:
            return
        conn = self.phone.connections.get(s.connection)
        intent, s.pending = s.pending, None
        if 200 <= response.status < 300 and conn is not None and s.reinvite is not None:
            ack = self._in_dialog(s, "ACK", cseq=s.reinvite.cseq.seq)
            self.phone.layer.send_stateless(ack, conn.address, conn.transport)
            if s.ended:
                return
            s.held = intent == "hold"
            self._status(
                s,
                S.ON_HOLD if s.held or s.remote_hold else S.ESTABLISHED,
                now,
                reason=intent or "",
                code=response.status,
            )
            return
        if event.local and conn is not None:
            reason = "timeout" if response.status == 408 else "transport error"
            self.phone.mark_unavailable(conn, f"re-INVITE {reason}", response.status, now)

    # --- inbound --------------------------------------------------------------------------
    def request(self, event: RequestReceived, now: float) -> bool:
        """Handle a request that concerns calls; False when it is not about a call."""
        req = event.request
        method = req.method
        if method == "INVITE" and req.to.tag is None:
            self._incoming(event, now)
            return True
        if method == "CANCEL":
            self._cancelled(event, now)
            return True
        s = self._dialog(req)
        if method == "ACK":
            if s is not None and s.awaiting_ack:
                s.awaiting_ack = False
                self.phone.deadlines.cancel(s.id, "2xx")
                self.phone.deadlines.cancel(s.id, "ack")
                if not s.ended and s.status is S.RINGING:
                    self._status(s, S.ESTABLISHED, now, reason="answered", code=200)
            return True
        if event.key is None:
            return True
        if req.to.tag is None:
            return False  # out of dialog: OPTIONS and the like
        if s is None:
            self.phone.layer.send_response(make_response(req, 481), now, event.key)
            return True
        if method == "BYE":
            self.phone.layer.send_response(make_response(req, 200), now, event.key)
            self._disconnect(s, "RemoteHangup", None, now)
        elif method == "INVITE":
            self._remote_reinvite(s, event, now)
        else:
            self.phone.layer.send_response(make_response(req, 200), now, event.key)
        return True

    def _dialog(self, req: Request) -> Session | None:
        to_tag, from_tag = req.to.tag, req.from_.tag
        for s in self.sessions.values():
            if s.call_id == req.call_id and to_tag == s.local_tag:
                return s
            if s.call_id == req.call_id and req.method == "ACK" and s.direction == "inbound":
                return s if from_tag is not None else None
        return None

    def _connection_for(self, event: RequestReceived) -> Connection | None:
        conns = self.phone.connections.values()
        for conn in conns:
            if conn.address == event.source and conn.status is not ConnectionStatus.DISABLED:
                return conn
        uri = event.request.uri
        user = uri.user if isinstance(uri, SipURI) else None
        for conn in conns:
            if conn.user == user and conn.status is ConnectionStatus.AVAILABLE:
                return conn
        return None

    def _incoming(self, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        conn = self._connection_for(event)
        if conn is None:
            self.phone.layer.send_response(make_response(req, 404), now, event.key)
            return
        remote_sdp = None
        if req.body:
            try:
                remote_sdp = parse_sdp(req.body)
            except ParseError:
                self.phone.layer.send_response(make_response(req, 488), now, event.key)
                return
        n = next(self._numbers)
        s = Session(
            id=f"s{n}",
            direction="inbound",
            connection=conn.id,
            requested_connection=conn.id,
            remote=str(req.from_.uri),
            local_sdp=Sdp(address=self.phone.local_host, port=40000 + 2 * n, session_id=n),
            call_id=req.call_id,
            local_tag=self.phone.ids.tag(),
            invite=req,
            invite_key=event.key,
            invite_source=event.source,
            invite_transport=event.transport,
            remote_sdp=remote_sdp,
        )
        s.from_value = f"{req.headers.get('To')};tag={s.local_tag}"
        s.to_value = req.headers.get("From") or ""
        s.remote_target = req.contacts[0].uri if req.contacts else None
        s.route_set = req.headers.get_all("Record-Route")
        s.retransmit_interval = conn.timers.t1
        self.sessions[s.id] = s
        self.phone.layer.send_response(self._response(s, req, 180), now, event.key)
        self._status(s, S.RINGING, now, reason="incoming")
        if self.phone.config.auto_answer or wants_auto_answer(req):
            self.answer(s.id, now)

    def _cancelled(self, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        invite_key = (event.key[0], "INVITE", event.key[2])
        for s in self.sessions.values():
            if s.invite_key == invite_key and s.direction == "inbound":
                self.phone.layer.send_response(make_response(req, 200), now, event.key)
                if not s.ended and s.status is S.RINGING:
                    assert s.invite is not None
                    self.phone.layer.send_response(
                        self._response(s, s.invite, 487), now, invite_key
                    )
                    self._disconnect(s, "RemoteCancel", 487, now)
                return
        self.phone.layer.send_response(make_response(req, 481), now, event.key)

    def _remote_reinvite(self, s: Session, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        offer = None
        if req.body:
            try:
                offer = parse_sdp(req.body)
            except ParseError:
                self.phone.layer.send_response(make_response(req, 488), now, event.key)
                return
        if offer is not None:
            s.remote_sdp = offer
            s.remote_hold = offer.direction in ("sendonly", "inactive")
            s.local_sdp = offer.answer(
                address=self.phone.local_host,
                port=s.local_sdp.port,
                session_id=s.local_sdp.session_id,
                hold=s.held,
            )
        if req.contacts:
            s.remote_target = req.contacts[0].uri
        response = self._response(s, req, 200)
        response.body = s.local_sdp.serialise()
        response.headers.add("Content-Type", "application/sdp")
        s.invite, s.invite_key = req, event.key
        s.invite_source, s.invite_transport = event.source, event.transport
        self._send_2xx(s, response, now)
        self._status(
            s,
            S.ON_HOLD if s.held or s.remote_hold else S.ESTABLISHED,
            now,
            reason="remote re-INVITE",
            code=200,
        )

    def _send_2xx(self, s: Session, response: Response, now: float) -> None:
        assert s.invite_key is not None
        self.phone.layer.send_response(response, now, s.invite_key)
        s.final_2xx = response
        s.awaiting_ack = True
        conn = self.phone.connections.get(s.connection)
        t1 = conn.timers.t1 if conn else 0.5
        s.retransmit_interval = t1
        if s.invite_transport == "udp":
            self.phone.deadlines.set(s.id, "2xx", now + t1)
        self.phone.deadlines.set(s.id, "ack", now + 64 * t1)

    # --- timers ---------------------------------------------------------------------------
    def timer(self, sid: str, name: str, now: float) -> None:
        s = self.sessions.get(sid)
        if s is None:
            return
        if name == "invite" and not s.ended and s.invite_key is not None:
            # the site said nothing at all within invite_timeout: give the INVITE up
            self.phone.layer.abandon(s.invite_key)
            self._site_down(s, "INVITE timeout", 408, now)
        elif name == "2xx" and s.awaiting_ack and s.final_2xx is not None and s.invite_key:
            if s.invite_key in self.phone.layer.transactions:
                self.phone.layer.send_response(s.final_2xx, now, s.invite_key)
            conn = self.phone.connections.get(s.connection)
            t2 = conn.timers.t2 if conn else 4.0
            s.retransmit_interval = min(2 * s.retransmit_interval, t2)
            self.phone.deadlines.set(s.id, "2xx", now + s.retransmit_interval)
        elif name == "ack" and s.awaiting_ack:
            s.awaiting_ack = False
            self.phone.deadlines.cancel(s.id, "2xx")
            conn = self.phone.connections.get(s.connection)
            if conn is not None and s.remote_target is not None and not s.ended:
                self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
            self._disconnect(s, "NoAck", None, now)

    # --- building and bookkeeping -----------------------------------------------------------
    def _send(
        self, s: Session, conn: Connection, request: Request, now: float, kind: str
    ) -> tuple[str, str, str]:
        return self.phone.send_request(request, conn, now, what=f"call:{s.id}:{kind}")

    def _in_dialog(
        self, s: Session, method: str, *, cseq: int | None = None, body: bytes = b""
    ) -> Request:
        conn = self.phone.connections[s.connection]
        if cseq is None:
            s.local_cseq += 1
            cseq = s.local_cseq
        headers = Headers()
        headers.add("Via", self.phone.via(conn))
        for route in s.route_set:
            headers.add("Route", route)
        headers.add("Max-Forwards", "70")
        headers.add("From", s.from_value)
        headers.add("To", s.to_value)
        headers.add("Call-ID", s.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        uri = s.remote_target or (s.invite.uri if s.invite else None)
        return Request(method=method, uri=uri, headers=headers, body=body)

    def _cancel(self, invite: Request) -> Request:
        return same_branch_request(invite, "CANCEL", invite.headers.get("To") or "")

    def _response(self, s: Session, request: Request, status: int) -> Response:
        response = make_response(request, status, to_tag=s.local_tag)
        conn = self.phone.connections.get(s.connection)
        if conn is not None and status < 300:
            response.headers.add("Contact", self.phone.contact(conn))
            for rr in request.headers.get_all("Record-Route"):
                response.headers.add("Record-Route", rr)
        return response

    def _status(
        self,
        s: Session,
        status: SessionStatus,
        now: float,
        *,
        reason: str = "",
        code: int | None = None,
        force: bool = False,
    ) -> None:
        if status is s.status and not force:
            return
        previous, s.status = s.status, status
        self.phone.emit(
            SessionStatusChanged(
                session=s.id,
                connection=s.connection,
                status=status,
                previous=previous,
                direction=s.direction,
                remote=s.remote,
                reason=reason,
                code=code,
                t=now,
            )
        )

    def _disconnect(
        self, s: Session, reason: str, code: int | None, now: float, *, phrase: str = ""
    ) -> None:
        if s.ended:
            return
        s.ended = True
        self.phone.deadlines.cancel(s.id)
        text = f"{reason} {code} {phrase}".strip() if code is not None else reason
        self._status(s, S.DISCONNECTED, now, reason=text, code=code)


def wants_auto_answer(request: Request) -> bool:
    """Call-Info ``answer-after=N`` or Alert-Info ``info=alert-autoanswer`` (and the like)."""
    values = request.headers.get_all("Call-Info") + request.headers.get_all("Alert-Info")
    return any("answer-after" in v.lower() or "autoanswer" in v.lower() for v in values)
