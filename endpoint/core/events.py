"""What the phone tells its application; the statuses they carry are
:mod:`endpoint.core.status`'s. Immutable (``Final`` fields, held by mypy) and built by a
plain ``__init__``: the phone's compiled core makes one at every status change."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from endpoint.core.status import ConnectionStatus, SessionStatus

__all__ = [
    "ConnectionStatus",
    "ConnectionStatusChanged",
    "PhoneEvent",
    "SessionStatus",
    "SessionStatusChanged",
]


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ConnectionStatusChanged:
    connection: Final[int]
    status: Final[ConnectionStatus]
    previous: Final[ConnectionStatus | None]
    reason: Final[str]
    code: Final[int | None]
    t: Final[float]

    def __init__(  # positional too: the phone's core makes one at every change, and a
        self,  # class called with keywords from compiled code builds a dict for them
        connection: int,
        status: ConnectionStatus,
        previous: ConnectionStatus | None,
        reason: str,
        code: int | None,
        t: float,
    ) -> None:
        self.connection = connection
        self.status = status
        self.previous = previous
        self.reason = reason
        self.code = code
        self.t = t

    def to_json(self) -> dict[str, Any]:
        return {"event": "ConnectionStatusChanged", **asdict(self)}


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class SessionStatusChanged:
    """``connection`` is the connection the session uses now (its ``connection_id``)."""

    session: Final[str]
    connection: Final[int]
    status: Final[SessionStatus]
    previous: Final[SessionStatus | None]
    direction: Final[str]  # "outbound" | "inbound"
    remote: Final[str]
    reason: Final[str]
    code: Final[int | None]
    t: Final[float]

    def __init__(
        self,
        *,
        session: str,
        connection: int,
        status: SessionStatus,
        previous: SessionStatus | None,
        direction: str,
        remote: str,
        reason: str = "",
        code: int | None = None,
        t: float = 0.0,
    ) -> None:
        self.session = session
        self.connection = connection
        self.status = status
        self.previous = previous
        self.direction = direction
        self.remote = remote
        self.reason = reason
        self.code = code
        self.t = t

    @property
    def properties(self) -> dict[str, Any]:
        """The SDK's SessionEventArgs.Session.Properties view."""
        return {"connection_id": self.connection}

    def to_json(self) -> dict[str, Any]:
        return {"event": "SessionStatusChanged", **asdict(self), "connection_id": self.connection}


PhoneEvent = ConnectionStatusChanged | SessionStatusChanged
