"""What outbound and inbound call handling share: the sessions, the port to the phone,
and building requests and responses within a dialog, status events, disconnects."""

from __future__ import annotations

import itertools
import logging

from endpoint.core.connection import Connection
from endpoint.core.events import SessionStatusChanged
from endpoint.core.port import CallPort
from endpoint.core.session import Session
from endpoint.core.sessiontimer import deadline, granted, ours
from endpoint.core.status import SessionStatus
from endpoint.core.status import SessionStatus as S
from endpoint.sip.builder import same_branch_request
from endpoint.sip.headers import Headers
from endpoint.sip.message import Message, Request, Response, make_response

log = logging.getLogger("endpoint.calls")
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
FORGET_AFTER = 300.0  # s an ended session is kept (late retransmissions, queries)


class CallsBase:
    def __init__(self, port: CallPort) -> None:
        self.port = port
        self.sessions: dict[str, Session] = {}
        self._numbers = itertools.count(1)

    def answer(self, sid: str, now: float) -> None:
        raise NotImplementedError

    # --- building and bookkeeping -----------------------------------------------------------
    def _send(
        self, s: Session, conn: Connection, request: Request, now: float, kind: str
    ) -> tuple[str, str, str]:
        return self.port.send_request(request, conn, now, what=f"call:{s.id}:{kind}")

    def _in_dialog(
        self, s: Session, method: str, *, cseq: int | None = None, body: bytes = b""
    ) -> Request:
        conn = self.port.connections[s.connection]
        if cseq is None:
            s.local_cseq += 1
            cseq = s.local_cseq
        headers = Headers()
        headers.add("Via", self.port.via(conn))
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
        conn = self.port.connections.get(s.connection)
        if conn is not None and status < 300:
            response.headers.add("Contact", self.port.contact(conn))
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
        self.port.emit(
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

    # --- session timers (RFC 4028; endpoint.core.sessiontimer) ----------------------------
    def _arm(self, s: Session, message: Message, now: float, *, we_asked: bool) -> None:
        """(Re)start the session's timer from what ``message`` grants (a 2xx to our INVITE,
        or a request we answer); none granted: no timer."""
        self.port.cancel_deadline(s.id, "refresh")
        self.port.cancel_deadline(s.id, "expire")
        got = granted(message) if self.port.config.session_expires else None
        s.timer_interval = got[0] if got else None
        if got is not None and not s.ended:
            name, when = deadline(got[0], ours(got[1], we_asked=we_asked), now)
            self.port.set_deadline(s.id, name, when)

    def _grant(self, request: Request, response: Response) -> None:
        """A 2xx to a request offering a session timer takes it (RFC 4028 §9)."""
        got = granted(request) if self.port.config.session_expires else None
        if got is not None and 200 <= response.status < 300:
            response.headers.add("Session-Expires", f"{got[0]};refresher={got[1] or 'uac'}")
            response.headers.add("Require", "timer")

    def _expired(self, s: Session, now: float, reason: str, code: int | None,
                 phrase: str = "") -> None:  # fmt: skip
        """The session timer ends the call (RFC 4028 §10): a BYE, and the session is over."""
        if s.ended or self.port.config.mutant == "keeps_dead_calls":
            return  # (the mutant: a call whose site died is left up)
        conn = self.port.connections.get(s.connection)
        if conn is not None and s.remote_target is not None:
            self._send(s, conn, self._in_dialog(s, "BYE"), now, "bye")
        self._disconnect(s, reason, code, now, phrase=phrase)

    def _disconnect(
        self, s: Session, reason: str, code: int | None, now: float, *, phrase: str = ""
    ) -> None:
        if s.ended:
            return
        s.ended = True
        self.port.cancel_deadline(s.id)
        self.port.set_deadline(s.id, "forget", now + FORGET_AFTER)  # then it is gone
        text = f"{reason} {code} {phrase}".strip() if code is not None else reason
        self._status(s, S.DISCONNECTED, now, reason=text, code=code)


def wants_auto_answer(request: Request) -> bool:
    """Call-Info ``answer-after=N`` or Alert-Info ``info=alert-autoanswer`` (and the like)."""
    values = request.headers.get_all("Call-Info") + request.headers.get_all("Alert-Info")
    return any("answer-after" in v.lower() or "autoanswer" in v.lower() for v in values)
