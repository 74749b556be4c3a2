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

import re

from endpoint.core.callbase import ALLOW, log
from endpoint.core.connection import Connection
from endpoint.core.inbound import InboundCalls
from endpoint.core.session import Session
from endpoint.core.sessiontimer import offer
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import SessionStatus as S
from endpoint.sip.builder import build_request
from endpoint.sip.errors import LocalProtocolError, ParseError
from endpoint.sip.events import ResponseReceived, StrayResponse
from endpoint.sip.message import Request, Response
from endpoint.sip.sdp import Sdp, parse_sdp
from endpoint.sip.uri import URI, SipURI, parse_uri

_USER = re.compile(r"[A-Za-z0-9_.!~*'()&=+$,;?/%-]{1,128}")


class CallControl(InboundCalls):
    # --- API ------------------------------------------------------------------------------
    def dial(self, conn_id: int, destination: str, now: float) -> str:
        self.port.connection(conn_id)  # raises for an unknown connection
        n = next(self._numbers)
        sid = f"s{n}"
        session = Session(
            id=sid,
            direction="outbound",
            connection=conn_id,
            requested_connection=conn_id,
            destination=destination,
            remote=destination,
            local_sdp=Sdp(address=self.port.local_host, port=40000 + 2 * n, session_id=n),
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
        offer = s.remote_sdp or Sdp(address=self.port.local_host, port=9)
        s.local_sdp = offer.answer(
            address=self.port.local_host, port=s.local_sdp.port, session_id=s.local_sdp.session_id
        )
        response = self._response(s, s.invite, 200)
        response.body = s.local_sdp.serialise()
        response.headers.add("Content-Type", "application/sdp")
        self._send_2xx(s, response, now)

    def hangup(self, sid: str, now: float) -> None:
        s = self.session(sid)
        if s.ended:
            return
        conn = self.port.connections.get(s.connection)
        if s.status in (S.DIALING, S.RINGING) and s.direction == "outbound":
            if s.invite is not None and conn is not None:
                self._send(s, conn, self._cancel(s.invite), now, "cancel")
        elif s.status is S.RINGING and s.direction == "inbound" and s.invite_key is not None:
            assert s.invite is not None
            self.port.send_response(self._response(s, s.invite, 603), now, s.invite_key)
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
        conns = self.port.connections
        if self.port.config.mutant == "calls_through_known_down":  # (a mutant's doing)
            asked = conns.get(requested)
            if asked is not None and requested not in exclude:
                return asked
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
        """Where a dial goes: a SIP URI, or a user at the connection's domain. Nothing
        that is not SIP syntax reaches the wire (no CR LF, no white space)."""
        if destination.startswith(("sip:", "sips:")):
            return parse_uri(destination, "destination")
        if not _USER.fullmatch(destination):
            raise LocalProtocolError(f"destination {destination[:80]!r} is not a SIP user")
        return SipURI(user=destination, host=conn.config.aor_domain)

    def _invite(self, s: Session, conn: Connection, now: float, *, reason: str) -> None:
        s.connection = conn.id
        s.tried.add(conn.id)
        s.call_id = self.port.ids.call_id(self.port.local_host)
        s.local_tag = self.port.ids.tag()
        s.local_cseq = 1
        s.authed = False
        uri = self.target(conn, s.destination)
        s.remote = str(uri)
        display = f'"{self.port.config.display_name}" ' if self.port.config.display_name else ""
        s.from_value = f"{display}<{conn.aor}>;tag={s.local_tag}"
        s.to_value = f"<{uri}>"
        request = build_request(
            "INVITE",
            uri,
            via=self.port.via(conn),
            from_=s.from_value,
            to=s.to_value,
            call_id=s.call_id,
            cseq=s.local_cseq,
            contact=self.port.contact(conn),
            extra=[("Allow", ALLOW), ("User-Agent", "geolab-endpoint"), *self._timer_offer()],
            body=s.local_sdp.serialise(),
            content_type="application/sdp",
        )
        self._send_invite(s, conn, request, now)
        previous = s.status
        self._status(s, S.DIALING, now, reason=reason, force=previous is S.DIALING)

    def _send_invite(self, s: Session, conn: Connection, request: Request, now: float) -> None:
        s.invite = request
        s.invite_key = self._send(s, conn, request, now, "invite")
        self.port.set_deadline(s.id, "invite", now + self.port.config.invite_timeout)

    def _site_down(self, s: Session, reason: str, code: int, now: float) -> None:
        conn = self.port.connections.get(s.connection)
        if conn is not None:
            self.port.mark_unavailable(conn, reason, code, now)
        failover = self.port.config.failover and self.port.config.mutant != "no_failover"
        nxt = self._pick(s.requested_connection, exclude=s.tried) if failover else None
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
        elif kind == "bye" and event.local and event.response.status == 503 and (
                (conn := self.port.connections.get(s.connection)) is not None
                and conn.reliable):  # fmt: skip
            # its connection failed under it (a reset: the site's address moved, RFC 3261
            # §18.1.1): the BYE once more, over a new connection
            self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye-again")
        elif kind in ("bye", "bye-again", "cancel") and event.local:
            conn = self.port.connections.get(s.connection)
            if conn is not None:
                reason = "timeout" if event.response.status == 408 else "transport error"
                self.port.mark_unavailable(
                    conn, f"{kind.split('-')[0].upper()} {reason}", event.response.status, now
                )

    def _invite_response(self, s: Session, event: ResponseReceived, now: float) -> None:
        response = event.response
        if event.request is not s.invite and event.request.call_id != s.call_id:
            return  # an answer to an INVITE this session gave up on
        status = response.status
        self.port.cancel_deadline(s.id, "invite")
        if 200 <= status < 300:
            self._accept(s, response, now)
            return
        if s.ended:
            return
        if status < 200:
            if status in (180, 183) and s.status is S.DIALING:
                self._status(s, S.RINGING, now, reason=str(status), code=status)
            return
        conn = self.port.connections.get(s.connection)
        if status in (401, 407) and conn is not None and conn.auth is not None and not s.authed:
            s.authed = True
            s.local_cseq += 1
            retry = conn.auth.retry(
                event.request,
                response,
                branch=self.port.ids.branch(),
                cnonce=self.port.ids.cnonce(),
            )
            self._send_invite(s, conn, retry, now)
            return
        if event.local:
            reason = "INVITE timeout" if status == 408 else "INVITE transport error"
            self._site_down(s, reason, status, now)
            return
        self._disconnect(s, "SipError", status, now, phrase=response.reason)

    def _accept(self, s: Session, response: Response, now: float) -> None:
        conn = self.port.connections.get(s.connection)
        if s.status in (S.ESTABLISHED, S.ON_HOLD) and s.ack is not None and conn is not None:
            self.port.send_stateless(s.ack, conn.address, conn.transport)  # re-ACK
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
        self.port.send_stateless(s.ack, conn.address, conn.transport)
        if s.ended:  # hung up while it was ringing: end it properly
            self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
            return
        self._status(s, S.ESTABLISHED, now, reason="answered", code=response.status)
        self._arm(s, response, now, we_asked=True)

    def _timer_offer(self) -> list[tuple[str, str]]:
        interval = self.port.config.session_expires
        return offer(interval) if interval else []

    def stray(self, event: StrayResponse, now: float) -> None:
        response = event.response
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        for s in self.sessions.values():
            if s.call_id == response.call_id and s.ack is not None:
                conn = self.port.connections.get(s.connection)
                if conn is not None:
                    self.port.send_stateless(s.ack, conn.address, conn.transport)

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
        conn = self.port.connections.get(s.connection)
        if conn is None or s.remote_target is None:
            return
        held = intent == "hold" or (intent == "refresh" and s.held)  # a refresh keeps it
        s.local_sdp = s.local_sdp.with_direction("sendonly" if held else "sendrecv")
        request = self._in_dialog(s, "INVITE", body=s.local_sdp.serialise())
        request.headers.add("Contact", self.port.contact(conn))
        if s.timer_interval is not None:  # every re-INVITE refreshes the session (RFC 4028)
            for name, value in offer(s.timer_interval):
                request.headers.add(name, value)
        request.headers.add("Content-Type", "application/sdp")
        s.pending = intent
        s.reinvite = request
        self._send(s, conn, request, now, "reinvite")

    def _reinvite_response(self, s: Session, event: ResponseReceived, now: float) -> None:
        response = event.response
        if response.status < 200:
            return
        conn = self.port.connections.get(s.connection)
        intent, s.pending = s.pending, None
        if 200 <= response.status < 300 and conn is not None and s.reinvite is not None:
            ack = self._in_dialog(s, "ACK", cseq=s.reinvite.cseq.seq)
            self.port.send_stateless(ack, conn.address, conn.transport)
            if s.ended:
                return
            if intent != "refresh":
                s.held = intent == "hold"
            self._arm(s, response, now, we_asked=True)
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
            self.port.mark_unavailable(conn, f"re-INVITE {reason}", response.status, now)
        if s.timer_interval is not None and (event.local or response.status in (408, 481)):
            # RFC 4028 §10: a refresh that times out or finds no dialog ends the session
            phrase = "Request Timeout" if response.status == 408 else response.reason
            self._expired(s, now, "SipError", response.status, phrase)

    # --- timers ---------------------------------------------------------------------------
    def timer(self, sid: str, name: str, now: float) -> None:
        s = self.sessions.get(sid)
        if s is None:
            return
        if name == "forget":
            del self.sessions[sid]
            return
        if name == "ring" and not s.ended and s.status is S.RINGING and s.invite is not None:
            # nobody answered: as a phone gives up ringing
            self.port.send_response(self._response(s, s.invite, 480), now, s.invite_key)
            self._disconnect(s, "RingTimeout", 480, now)
            return
        if name == "refresh" and s.active:
            if s.pending:  # a re-INVITE under way refreshes it; look again after it
                self.port.set_deadline(s.id, "refresh", now + 1.0)
            else:
                self._reinvite(s, "refresh", now)
            return
        if name == "expire" and s.active:  # no refresh came (RFC 4028 §10)
            self._expired(s, now, "SessionExpired", None)
            return
        if name == "invite" and not s.ended and s.invite_key is not None:
            # the site said nothing at all within invite_timeout: give the INVITE up
            self.port.abandon(s.invite_key)
            self._site_down(s, "INVITE timeout", 408, now)
        elif name == "2xx" and s.awaiting_ack and s.final_2xx is not None and s.invite_key:
            if self.port.in_progress(s.invite_key):
                self.port.send_response(s.final_2xx, now, s.invite_key)
            conn = self.port.connections.get(s.connection)
            t2 = conn.timers.t2 if conn else 4.0
            s.retransmit_interval = min(2 * s.retransmit_interval, t2)
            self.port.set_deadline(s.id, "2xx", now + s.retransmit_interval)
        elif name == "ack" and s.awaiting_ack:
            s.awaiting_ack = False
            self.port.cancel_deadline(s.id, "2xx")
            conn = self.port.connections.get(s.connection)
            if conn is not None and s.remote_target is not None and not s.ended:
                self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
            self._disconnect(s, "NoAck", None, now)
