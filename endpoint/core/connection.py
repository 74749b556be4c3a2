"""A connection: one DN on one SIP server site, its status and its registration."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

from endpoint.config import ConnectionConfig
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import ConnectionStatus as C
from endpoint.sip.auth import DigestClient
from endpoint.sip.errors import LocalProtocolError
from endpoint.sip.events import Address
from endpoint.sip.timers import TimerConfig, is_reliable

# Which status changes can happen at all; anything else is a bug, raised by name.
TRANSITIONS: frozenset[tuple[ConnectionStatus, ConnectionStatus]] = frozenset(
    {
        (C.REGISTERING, C.AVAILABLE),
        (C.REGISTERING, C.UNAVAILABLE),
        (C.AVAILABLE, C.UNAVAILABLE),
        (C.UNAVAILABLE, C.AVAILABLE),
        (C.DISABLED, C.REGISTERING),
        *((s, C.DISABLED) for s in (C.REGISTERING, C.AVAILABLE, C.UNAVAILABLE)),
        *((s, C.REMOVED) for s in (C.REGISTERING, C.AVAILABLE, C.UNAVAILABLE, C.DISABLED)),
    }
)


class ConnectionStateError(LocalProtocolError):
    def __init__(self, connection: int, current: ConnectionStatus, wanted: ConnectionStatus):
        super().__init__(f"connection {connection}: no transition {current} -> {wanted}")


@functools.lru_cache(maxsize=256)
def timers_for(timeout: float) -> TimerConfig:
    """Timer values whose 64*T1 is ``timeout`` (RFC 3261 ratios otherwise kept)."""
    t1 = timeout / 64
    return TimerConfig(t1=t1, t2=min(4.0, max(t1, timeout / 8)), t4=min(5.0, timeout / 6.4))


def requested_expires(reg_interval: float) -> int:
    """Ask for a little more than the renewal period so a renewal never races expiry."""
    return math.ceil(reg_interval * 1.2 + 2)


@dataclass
class Connection:
    """One connection's state. The :class:`~endpoint.core.phone.Phone` drives it."""

    config: ConnectionConfig
    status: ConnectionStatus = C.DISABLED
    last_registration: float | None = None  # time of the last 2xx to REGISTER
    last_error: str | None = None
    last_code: int | None = None
    call_id: str = ""
    cseq: int = 0
    generation: int = 0  # bumped on disable/remove: late responses are ignored
    registering: bool = False  # a REGISTER transaction is under way
    sent_at: float = 0.0  # when the current REGISTER went out: renewals count from there
    auth: DigestClient | None = None
    granted_expires: int | None = None
    events: list[tuple[ConnectionStatus, ConnectionStatus]] = field(default_factory=list)

    def __post_init__(self) -> None:
        c = self.config
        if c.password is not None:
            self.auth = DigestClient(c.auth_user or c.user, c.password)

    @property
    def id(self) -> int:
        return self.config.id

    @property
    def user(self) -> str:
        return self.config.user

    @property
    def server(self) -> str:
        return self.config.server

    @property
    def protocol(self) -> str:
        return self.config.protocol

    @property
    def reg_interval(self) -> float:
        return self.config.reg_interval

    @property
    def address(self) -> Address:
        return (self.config.server, self.config.port)

    @property
    def transport(self) -> str:
        """Wire transport: udp, tcp or tls."""
        return self.config.protocol

    @property
    def reliable(self) -> bool:
        """Over a connection (TCP or TLS): its loss is news of the site."""
        return is_reliable(self.config.protocol)

    @property
    def scheme(self) -> str:
        return "sips" if self.config.sips else "sip"

    @property
    def timers(self) -> TimerConfig:
        return timers_for(self.config.transaction_timeout)

    @property
    def aor(self) -> str:
        return f"{self.scheme}:{self.config.user}@{self.config.aor_domain}"

    @property
    def usable(self) -> bool:
        return self.status is C.AVAILABLE

    def move(self, status: ConnectionStatus) -> ConnectionStatus | None:
        """Change status; return the previous one, or None if it did not change."""
        if status is self.status:
            return None
        if (self.status, status) not in TRANSITIONS:
            raise ConnectionStateError(self.id, self.status, status)
        previous, self.status = self.status, status
        return previous

    def snapshot(self) -> dict[str, object]:
        return {
            "id": self.id,
            "user": self.user,
            "server": f"{self.server}:{self.config.port}",
            "protocol": self.protocol.upper(),
            "reg_interval": self.reg_interval,
            "status": self.status.value,
            "last_registration": self.last_registration,
            "last_error": self.last_error,
        }
