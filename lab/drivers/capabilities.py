"""What an endpoint driver supports, as data (the drill schema checks a drill against it
without starting anything); each driver declares its own where it registers
(:mod:`lab.drivers.registry`)."""

from __future__ import annotations

from dataclasses import dataclass

CALL_ACTIONS = frozenset({"dial", "answer", "hangup", "hold", "resume", "call"})
COMMANDS = frozenset({"dial", "answer", "hangup", "hold", "resume", "add_connection",
                      "enable_connection", "disable_connection", "remove_connection"})  # fmt: skip


@dataclass(frozen=True)
class Capabilities:
    """What a driver's endpoint can be asked and what it can run on."""

    commands: frozenset[str] = COMMANDS
    transports: frozenset[str] = frozenset({"udp", "tcp", "tls", "ws", "wss"})
    keepalives: frozenset[str] = frozenset({"options", "crlf"})
    backoffs: frozenset[str] = frozenset({"fixed", "rfc5626"})  # ConnectionSettings.retry_backoff
    session_timers: bool = True  # it can be given a session interval (RFC 4028)
    modes: frozenset[str] = frozenset({"real"})
    wire_tap: bool = False  # it reports its own SIP messages (else only the proxy sees them)
    calls: str | None = None  # why no call can be graded with it here (None: calls can)
    pages: bool = False  # it loads a page of one's own (--endpoint-page, endpoint.page)
    # why its endpoint cannot be given the lab's DNS server, to find sites named by host
    # name (None: it can)
    dns: str | None = None
