"""What outbound and inbound call handling share: the sessions, the port to the phone,
and building requests and responses within a dialog, status events, disconnects."""

from __future__ import annotations

import itertools
import logging

from endpoint.core.connection import Connection
from endpoint.core.events import SessionStatusChanged
from endpoint.core.port import CallPort
from endpoint.core.session import Session
from endpoint.core.status import SessionStatus
from endpoint.core.status import SessionStatus as S
from endpoint.sip.builder import same_branch_request
from endpoint.sip.headers import Headers
from endpoint.sip.message import Request, Response, make_response

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
