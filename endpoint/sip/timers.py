"""RFC 3261 timer values (section 17 and table 4), configurable per transport."""

from __future__ import annotations

import enum
from dataclasses import dataclass

RELIABLE_TRANSPORTS = frozenset({"tcp", "tls", "sctp", "ws", "wss"})


def is_reliable(transport: str) -> bool:
    return transport.lower() in RELIABLE_TRANSPORTS


class Timer(enum.StrEnum):
    A = "A"  # INVITE request retransmit (unreliable)
    B = "B"  # INVITE transaction timeout
    D = "D"  # wait for response retransmits (client INVITE, Completed)
    E = "E"  # non-INVITE request retransmit (unreliable)
    F = "F"  # non-INVITE transaction timeout
    G = "G"  # INVITE final response retransmit (unreliable)
    H = "H"  # wait for ACK
    I = "I"  # wait for ACK retransmits  # noqa: E741
    J = "J"  # wait for non-INVITE request retransmits
    K = "K"  # wait for response retransmits (client non-INVITE, Completed)
    L = "L"  # server INVITE Accepted (RFC 6026)
    M = "M"  # client INVITE Accepted (RFC 6026)


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """T1 (RTT estimate), T2 (max non-INVITE retransmit interval), T4 (max message life)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    d: float = 32.0  # Timer D for unreliable transports: at least 32 s
    retransmit: bool = True  # Timers A and E (False only for a mutant that never resends)

    def __post_init__(self) -> None:
        if not (0 < self.t1 <= self.t2) or self.t4 <= 0 or self.d < 0:
            raise ValueError(f"bad timer values t1={self.t1} t2={self.t2} t4={self.t4}")

    @property
    def timeout(self) -> float:
        """64·T1: Timers B, F, H, J (unreliable), L and M."""
        return 64 * self.t1
