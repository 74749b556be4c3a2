"""The phone's disaster-recovery logic, sans-I/O: connections and their states,
registration, renewal and retry, keep-alive, calls, hold and failover."""

from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    SessionStatus,
    SessionStatusChanged,
)
from endpoint.core.phone import Phone

__all__ = [
    "ConnectionStatus",
    "ConnectionStatusChanged",
    "Phone",
    "SessionStatus",
    "SessionStatusChanged",
]
