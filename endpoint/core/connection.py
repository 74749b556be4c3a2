"""A connection: one DN on one SIP server site, its status and its registration."""

from __future__ import annotations

import functools
import math
from typing import Final

from endpoint.config import ConnectionConfig
from endpoint.core.rfc3263 import Resolution
from endpoint.core.status import ConnectionStatus
from endpoint.core.status import ConnectionStatus as C
from endpoint.sip.auth import DigestClient
from endpoint.sip.builder import via_around
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


class Connection:
    """One connection's state. The :class:`~endpoint.core.phone.Phone` drives it.

    What the phone reads of the connection's configuration at every message (its address,
    transport, timers, AoR …) is worked out once here: the configuration is frozen."""

    def __init__(
        self, config: ConnectionConfig, *, call_id: str = "", local: Address = ("", 0)
    ) -> None:
        # each field read once (a configuration's attribute costs more than a local's)
        user, server, protocol, sips = config.user, config.server, config.protocol, config.sips
        self.config: Final = config
        self.id: Final = config.id
        self.user: Final = user
        self.server: Final = server
        self.protocol: Final = protocol
        self.transport: Final = protocol  # the wire transport: udp, tcp, tls, ws or wss
        self.reg_interval: Final[float] = config.reg_interval
        self.retry_interval: Final[float] = config.retry_interval
        self.keepalive: Final = config.keepalive
        self.keepalive_interval: Final[float] = config.keepalive_interval
        self.keepalive_timeout: Final[float] = config.keepalive_timeout
        # a host name (RFC 3263: where it leads is found, endpoint.core.locating), or None
        self.name: Final = None if is_ipv4(server) else server
        self.address: Address = (server, config.port) if self.name is None else ("", 0)
        self.targets: list[Address] = []  # the name's targets, in the order to try them
        self.target_at = 0  # the one in use
        self.resolved_until = 0.0  # when they expire (their TTL)
        self.resolution: Resolution | None = None  # one under way
        self.dns_error: str | None = None  # why the last one found no target
        # over a connection (TCP or TLS): its loss is news of the site
        self.reliable: Final = is_reliable(protocol)
        self.scheme: Final = "sips" if sips else "sip"
        self.timers: Final = timers_for(config.transaction_timeout)
        self.aor_domain: Final = config.aor_domain
        self.aor: Final = f"{self.scheme}:{user}@{self.aor_domain}"
        # ``local``: the phone's address, which its Contact and Via name
        host, port = local
        self.contact: Final = (
            f"<sips:{user}@{host}:{port}>"  # a sips: Contact is TLS by its scheme (RFC 5630)
            if sips
            else f"<sip:{user}@{ws_host(host, port)};transport={protocol}>"  # RFC 7118 §5.2
            if protocol in ("ws", "wss")
            else f"<sip:{user}@{host}:{port};transport={protocol}>"
        )
        self.via_around: Final = via_around(protocol, host, port)  # (before, after)
        self.status = C.DISABLED
        self.last_registration: float | None = None  # time of the last 2xx to REGISTER
        self.last_error: str | None = None
        self.last_code: int | None = None
        self.call_id = call_id
        self.cseq = 0
        self.generation = 0  # bumped on disable/remove: late responses are ignored
        self.registering = False  # a REGISTER transaction is under way
        self.failures = 0  # failed registrations in a row (RFC 5626 4.5's backoff counts them)
        self.sent_at = 0.0  # when the current REGISTER went out: renewals count from there
        self.auth: DigestClient | None = None
        if config.password is not None:
            self.auth = DigestClient(config.auth_user or user, config.password)
        self.granted_expires: int | None = None
        self.events: list[tuple[ConnectionStatus, ConnectionStatus]] = []

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.aor} {self.status}>"

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
            # where it sends: a named server's target (none yet: an empty host)
            "address": f"{self.address[0]}:{self.address[1]}",
            "protocol": self.protocol.upper(),
            "reg_interval": self.reg_interval,
            "status": self.status.value,
            "last_registration": self.last_registration,
            "last_error": self.last_error,
        }


def is_ipv4(host: str) -> bool:
    """``host`` is a dotted IPv4 address (not a name to resolve)."""
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts)


def ws_host(host: str, port: int) -> str:
    """The host a WebSocket client's Contact names: one no one can reach (RFC 7118 §5.2),
    so a site routes requests to it over the client's own connection."""
    return f"{host.replace('.', '-')}-{port}.invalid"
