"""What the phone tells its application; the statuses they carry are
:mod:`endpoint.core.status`'s."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from endpoint.core.status import ConnectionStatus, SessionStatus

__all__ = [
    "ConnectionStatus",
    "ConnectionStatusChanged",
    "PhoneEvent",
    "SessionStatus",
    "SessionStatusChanged",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionStatusChanged:
    connection: int
    status: ConnectionStatus
    previous: ConnectionStatus | None
    reason: str
    code: int | None
    t: float

    def to_json(self) -> dict[str, Any]:
        return {"event": "ConnectionStatusChanged", **asdict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionStatusChanged:
    """``connection`` is the connection the session uses now (its ``connection_id``)."""

    session: str
    connection: int
    status: SessionStatus
    previous: SessionStatus | None
    direction: str  # "outbound" | "inbound"
    remote: str
    reason: str = ""
    code: int | None = None
    t: float = 0.0

    @property
    def properties(self) -> dict[str, Any]:
        """The SDK's SessionEventArgs.Session.Properties view."""
        return {"connection_id": self.connection}

    def to_json(self) -> dict[str, Any]:
        return {"event": "SessionStatusChanged", **asdict(self), "connection_id": self.connection}


PhoneEvent = ConnectionStatusChanged | SessionStatusChanged
