"""What the phone tells its application. Status strings are a contract: the JSON-lines
protocol, scenario files and reports use them exactly as written here."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class ConnectionStatus(enum.StrEnum):
    REGISTERING = "Registering"
    AVAILABLE = "Available"
    UNAVAILABLE = "Unavailable"
    DISABLED = "Disabled"
    REMOVED = "Removed"


class SessionStatus(enum.StrEnum):
    DIALING = "Dialing"
    RINGING = "Ringing"
    ESTABLISHED = "Established"
    ON_HOLD = "OnHold"
    DISCONNECTED = "Disconnected"


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
