"""Inbound calls: a new INVITE rings on the connection whose site it came through (or is
refused), CANCEL, a remote re-INVITE, in-dialog requests, and the 2xx kept until its ACK."""

from __future__ import annotations

from endpoint.core.callbase import CallsBase, wants_auto_answer
from endpoint.core.connection import Connection
from endpoint.core.session import Session
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import SessionStatus as S
from endpoint.sip.errors import ParseError
from endpoint.sip.events import RequestReceived
from endpoint.sip.message import Request, Response, make_response
from endpoint.sip.sdp import Sdp, parse_sdp
from endpoint.sip.timers import is_reliable
from endpoint.sip.uri import SipURI

MAX_RINGING = 16  # inbound calls ringing at once; one more is answered 486 Busy Here


class InboundCalls(CallsBase):
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
                self.port.cancel_deadline(s.id, "2xx")
                self.port.cancel_deadline(s.id, "ack")
                if not s.ended and s.status is S.RINGING:
                    self._status(s, S.ESTABLISHED, now, reason="answered", code=200)
            return True
        if event.key is None:
            return True
        if req.to.tag is None:
            return False  # out of dialog: OPTIONS and the like
        if s is None:
            self.port.send_response(make_response(req, 481), now, event.key)
            return True
        if method == "BYE":
            self.port.send_response(make_response(req, 200), now, event.key)
            self._disconnect(s, "RemoteHangup", None, now)
        elif method == "INVITE":
            self._remote_reinvite(s, event, now)
        else:
            self.port.send_response(make_response(req, 200), now, event.key)
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
        """The connection an inbound call is for: one whose site it came from (by address:
        a site relays from where the connection registers to) and whose user it asks for.
        A call from anywhere else, or for another user, is no call of ours."""
        uri = event.request.uri
        user = uri.user if isinstance(uri, SipURI) else None
        for conn in self.port.connections.values():
            if (
                conn.address[0] == event.source[0]
                and (conn.address == event.source or is_reliable(event.transport))
                and conn.user == user
                and conn.status is not ConnectionStatus.DISABLED
            ):
                return conn
        return None

    def _incoming(self, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        conn = self._connection_for(event)
        if conn is None:
            self.port.send_response(make_response(req, 404), now, event.key)
            return
        ringing = sum(1 for x in self.sessions.values() if x.status is S.RINGING and not x.ended)
        if ringing >= MAX_RINGING:  # a flood of calls: busy, and nothing kept for them
            self.port.send_response(make_response(req, 486), now, event.key)
            return
        remote_sdp = None
        if req.body:
            try:
                remote_sdp = parse_sdp(req.body)
            except ParseError:
                self.port.send_response(make_response(req, 488), now, event.key)
                return
        n = next(self._numbers)
        s = Session(
            id=f"s{n}",
            direction="inbound",
            connection=conn.id,
            requested_connection=conn.id,
            remote=str(req.from_.uri),
            local_sdp=Sdp(address=self.port.local_host, port=40000 + 2 * n, session_id=n),
            call_id=req.call_id,
            local_tag=self.port.ids.tag(),
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
        self.port.send_response(self._response(s, req, 180), now, event.key)
        self._status(s, S.RINGING, now, reason="incoming")
        self.port.set_deadline(s.id, "ring", now + self.port.config.ring_timeout)
        if self.port.config.auto_answer or wants_auto_answer(req):
            self.answer(s.id, now)

    def _cancelled(self, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        invite_key = (event.key[0], "INVITE", event.key[2])
        for s in self.sessions.values():
            if s.invite_key == invite_key and s.direction == "inbound":
                self.port.send_response(make_response(req, 200), now, event.key)
                if not s.ended and s.status is S.RINGING:
                    assert s.invite is not None
                    self.port.send_response(self._response(s, s.invite, 487), now, invite_key)
                    self._disconnect(s, "RemoteCancel", 487, now)
                return
        self.port.send_response(make_response(req, 481), now, event.key)

    def _remote_reinvite(self, s: Session, event: RequestReceived, now: float) -> None:
        req = event.request
        assert event.key is not None
        offer = None
        if req.body:
            try:
                offer = parse_sdp(req.body)
            except ParseError:
                self.port.send_response(make_response(req, 488), now, event.key)
                return
        if offer is not None:
            s.remote_sdp = offer
            s.remote_hold = offer.direction in ("sendonly", "inactive")
            s.local_sdp = offer.answer(
                address=self.port.local_host,
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
        assert s.invite_key is not None and s.invite is not None
        self._grant(s.invite, response)
        self._arm(s, s.invite, now, we_asked=False)
        self.port.send_response(response, now, s.invite_key)
        s.final_2xx = response
        s.awaiting_ack = True
        conn = self.port.connections.get(s.connection)
        t1 = conn.timers.t1 if conn else 0.5
        s.retransmit_interval = t1
        if s.invite_transport == "udp":
            self.port.set_deadline(s.id, "2xx", now + t1)
        self.port.set_deadline(s.id, "ack", now + 64 * t1)
