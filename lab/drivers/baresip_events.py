"""baresip's side of the ``baresip`` driver, without I/O or a clock: its configuration
file, one account line per connection, the netstrings its ``ctrl_tcp`` speaks, and the
translation of its events into the phone events the lab grades.

Translation only: a status is reported when baresip says it changed (``REGISTER_OK``
repeats on every refresh and is one change the first time); what baresip does not say
(it pushes nothing for hold and resume) is reported when baresip accepts the command;
its reasons are put in the protocol's words (a timed-out transaction is a 408)."""

from __future__ import annotations

import json
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from endpoint.config import ConnectionConfig
from endpoint.core.connection import is_ipv4
from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    PhoneEvent,
    SessionStatus,
    SessionStatusChanged,
)

MAX_NETSTRING = 1 << 20  # a reply longer than this is not baresip's


def config_text(
    *, sip: tuple[str, int], control: tuple[str, int], modules: str, cafile: str | None = None,
    dns: str | None = None,
) -> str:  # fmt: skip
    """baresip's ``config``: loopback only (SIP, SDP, DNS and the control port), no sound
    card (``aubridge``), G.711, the menu's commands on ``ctrl_tcp``; ``cafile`` the CA its
    TLS connections are to trust (``sip_cafile``); ``dns`` the lab's DNS server (else
    127.0.0.1:53: nothing it asks leaves the machine)."""
    return "\n".join([
        *([f"sip_cafile {cafile}"] if cafile else []),
        "poll_method epoll",
        f"sip_listen {sip[0]}:{sip[1]}",
        f"net_interface {sip[0]}",
        f"dns_server {dns or '127.0.0.1:53'}",
        "audio_player aubridge,nil",
        "audio_source aubridge,nil",
        "audio_alert aubridge,nil",
        f"module_path {modules}",
        "module g711.so",
        "module aubridge.so",
        "module_tmp account.so",
        "module_app menu.so",
        "module_app ctrl_tcp.so",
        f"ctrl_tcp_listen {control[0]}:{control[1]}",
        "",
    ])  # fmt: skip


def aor(conn: ConnectionConfig) -> str:
    return f"{'sips' if conn.sips else 'sip'}:{conn.user}@{conn.aor_domain}"


def account_line(conn: ConnectionConfig) -> str:
    """One connection as a baresip account (``uanew``): its AOR, the site's target as the
    outbound proxy, its transport and re-registration interval; calls answered when told.
    baresip has no setting for a retry interval or a transaction timeout: it keeps its own."""
    transport = f";transport={conn.protocol}" if conn.protocol != "udp" else ""
    # a site named by host name goes without a port: baresip finds it as RFC 3263 says
    where = conn.server if not is_ipv4(conn.server) else f"{conn.server}:{conn.port}"
    params = [f'outbound="sip:{where}{transport}"',
              f"regint={max(1, round(conn.reg_interval))}", "answermode=manual"]  # fmt: skip
    if conn.password is not None:
        params.append(f"auth_user={conn.auth_user or conn.user}")
        params.append(f"auth_pass={conn.password}")
    return f"<{aor(conn)}{transport}>;" + ";".join(params)


def unsupported_by_account(conn: ConnectionConfig) -> str | None:
    """What of a connection an account line cannot carry (said, never dropped silently)."""
    password = conn.password if conn.password is not None else ""
    if any(ch in password for ch in ';"<> \\'):
        return "its password has a character baresip's account line cannot carry"
    return None


# --- netstrings --------------------------------------------------------------------------
def netstring(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return str(len(body)).encode() + b":" + body + b","


class NetstringReader:
    """Feed it bytes, take the JSON objects out."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self.buffer += data
        out: list[dict[str, Any]] = []
        while True:
            colon = self.buffer.find(b":")
            if colon < 0:
                if len(self.buffer) > 10:
                    raise ValueError(f"not a netstring: {bytes(self.buffer[:40])!r}")
                return out
            head = bytes(self.buffer[:colon])
            if not head.isdigit() or int(head) > MAX_NETSTRING:
                raise ValueError(f"not a netstring length: {head[:40]!r}")
            end = colon + 1 + int(head)
            if len(self.buffer) < end + 1:
                return out
            if self.buffer[end : end + 1] != b",":
                raise ValueError("a netstring does not end with ','")
            value = json.loads(bytes(self.buffer[colon + 1 : end]))
            del self.buffer[: end + 1]
            if not isinstance(value, dict):
                raise ValueError(f"not a JSON object: {value!r:.60}")  # noqa: TRY004
            out.append(value)


# --- events ------------------------------------------------------------------------------
_CODE = re.compile(r"^\s*([1-6]\d\d)\b")


def _code(param: str) -> int | None:
    """A failure's SIP status: the one baresip names, or 408 for a transaction that timed
    out (RFC 3261 8.1.3.1 treats that as a 408 from the site)."""
    match = _CODE.match(param)
    if match:
        return int(match.group(1))
    return 408 if "timed out" in param.lower() else None


def disconnect_reason(param: str, direction: str, status: SessionStatus | None) -> str:
    """baresip's reason a call closed, in the protocol's words (docs/endpoint-protocol.md):
    errno texts for hangups, ``SipError <code> <phrase>`` for a site's or party's answer."""
    text = param.strip()
    if text == "Connection reset by user":
        return "LocalHangup"
    if text == "Connection reset by peer":
        ringing_in = direction == "inbound" and status is SessionStatus.RINGING
        return "RemoteCancel" if ringing_in else "RemoteHangup"
    if _CODE.match(text):
        return f"SipError {text}"
    if "timed out" in text.lower():
        return "SipError 408 Request Timeout"
    return text


@dataclass
class _Session:
    id: str
    connection: int
    direction: str
    remote: str
    status: SessionStatus | None = None
    call_id: str | None = None


@dataclass
class Translator:
    """baresip's events in, phone events out. Connections are known by their AOR,
    sessions by the SIP Call-ID baresip gives (a dial is bound to the first call event of
    its account that carries an unknown one)."""

    connections: dict[str, int] = field(default_factory=dict)  # AOR -> connection
    status: dict[int, ConnectionStatus] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)  # our id -> session
    by_call: dict[str, str] = field(default_factory=dict)  # Call-ID -> our id
    dialing: dict[int, deque[str]] = field(default_factory=dict)  # connection -> unbound dials
    count: int = 0

    def add(self, conn: ConnectionConfig) -> None:
        self.connections[aor(conn)] = conn.id

    def connection_of(self, account: str) -> int | None:
        return self.connections.get(account.split(";", maxsplit=1)[0].strip("<>"))

    def connection_changed(
        self, conn: int, status: ConnectionStatus, t: float, reason: str = "",
        code: int | None = None,
    ) -> list[PhoneEvent]:  # fmt: skip
        previous = self.status.get(conn)
        if previous == status:
            return []
        self.status[conn] = status
        return [ConnectionStatusChanged(connection=conn, status=status, previous=previous,
                                        reason=reason, code=code, t=t)]  # fmt: skip

    def removed(self, conn: int, t: float) -> list[PhoneEvent]:
        self.connections = {a: c for a, c in self.connections.items() if c != conn}
        events = self.connection_changed(conn, ConnectionStatus.REMOVED, t, "removed")
        del self.status[conn]
        return events

    def dial_pending(self, conn: int, destination: str) -> str:
        """A dial about to be given to baresip from ``conn``: its session, bound to the
        first call event of that account with a Call-ID not yet known."""
        self.count += 1
        session = _Session(f"bs{self.count}", conn, "outbound", destination)
        self.sessions[session.id] = session
        self.dialing.setdefault(conn, deque()).append(session.id)
        return session.id

    def dial_accepted(self, session: str, t: float) -> list[PhoneEvent]:
        found = self.sessions.get(session)
        if found is None or found.status is not None:
            return []
        return self.session_changed(found, SessionStatus.DIALING, t)

    def dial_refused(self, session: str) -> None:
        found = self.sessions.pop(session, None)
        waiting = self.dialing.get(found.connection) if found is not None else None
        if waiting is not None and session in waiting:
            waiting.remove(session)

    def session_changed(
        self, session: _Session, status: SessionStatus, t: float, reason: str = "",
        code: int | None = None,
    ) -> list[PhoneEvent]:  # fmt: skip
        if session.status == status:
            return []
        before: list[PhoneEvent] = []
        if session.status is None and session.direction == "outbound" and status != "Dialing":
            before = self.session_changed(session, SessionStatus.DIALING, t)  # it went out
        previous, session.status = session.status, status
        if status is SessionStatus.DISCONNECTED:
            self.sessions.pop(session.id, None)
            if session.call_id is not None:
                self.by_call.pop(session.call_id, None)
        changed = SessionStatusChanged(
            session=session.id, connection=session.connection, status=status,
            previous=previous, direction=session.direction, remote=session.remote,
            reason=reason, code=code, t=t,
        )  # fmt: skip
        return [*before, changed]

    def call_id(self, session: str) -> str | None:
        found = self.sessions.get(session)
        return found.call_id if found is not None else None

    def account_of(self, session: str) -> int | None:
        found = self.sessions.get(session)
        return found.connection if found is not None else None

    def held(self, session: str, on_hold: bool, t: float) -> list[PhoneEvent]:
        found = self.sessions.get(session)
        if found is None:
            return []
        status = SessionStatus.ON_HOLD if on_hold else SessionStatus.ESTABLISHED
        return self.session_changed(found, status, t)

    def event(self, ev: dict[str, Any], t: float) -> list[PhoneEvent]:
        """One of baresip's events (``{"event":true,"type":…}``)."""
        kind = str(ev.get("type", ""))
        conn = self.connection_of(str(ev.get("accountaor", "")))
        if conn is None:
            return []
        param = str(ev.get("param", ""))
        if kind == "REGISTERING":
            return self.connection_changed(conn, ConnectionStatus.REGISTERING, t, "registering")
        if kind == "REGISTER_OK":
            return self.connection_changed(conn, ConnectionStatus.AVAILABLE, t, param or "OK",
                                           _code(param) or 200)  # fmt: skip
        if kind == "REGISTER_FAIL":
            return self.connection_changed(conn, ConnectionStatus.UNAVAILABLE, t, param,
                                           _code(param))  # fmt: skip
        if kind.startswith("CALL_"):
            return self._call(kind, conn, ev, param, t)
        return []

    def _call(
        self, kind: str, conn: int, ev: dict[str, Any], param: str, t: float
    ) -> list[PhoneEvent]:
        call_id = ev.get("id")
        if not isinstance(call_id, str) or not call_id:
            return []
        session = self._session_of(call_id, conn, kind, str(ev.get("peeruri", "")))
        if session is None:
            return []
        if kind == "CALL_INCOMING":
            return self.session_changed(session, SessionStatus.RINGING, t)
        if kind in ("CALL_RINGING", "CALL_PROGRESS"):
            return self.session_changed(session, SessionStatus.RINGING, t, param)
        if kind == "CALL_ESTABLISHED":
            return self.session_changed(session, SessionStatus.ESTABLISHED, t)
        if kind == "CALL_CLOSED":
            reason = disconnect_reason(param, session.direction, session.status)
            return self.session_changed(session, SessionStatus.DISCONNECTED, t, reason,
                                        _code(param))  # fmt: skip
        return []

    def _session_of(self, call_id: str, conn: int, kind: str, peer: str) -> _Session | None:
        known = self.by_call.get(call_id)
        if known is not None:
            return self.sessions.get(known)
        if kind == "CALL_INCOMING":
            self.count += 1
            session = _Session(f"bs{self.count}", conn, "inbound", peer, call_id=call_id)
            self.sessions[session.id] = session
        else:
            waiting = self.dialing.get(conn)
            if not waiting:
                return None
            session = self.sessions[waiting.popleft()]
            session.call_id = call_id
        self.by_call[call_id] = session.id
        return session
