"""What the transaction layer hands to its user: events in, messages out.

Each is a dataclass of ``Final`` fields with its own ``__init__`` rather than a frozen
dataclass: immutable all the same (mypy holds it; compiled, the fields are read-only), but
built by compiled code in tens of nanoseconds instead of through ``object.__setattr__``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message, Request, Response

Address = tuple[str, int]
TxKey = tuple[str, str, str]  # (branch, method, sent-by or "client")


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class Outgoing:
    """A message (or an RFC 5626 keep-alive) to put on the wire; the I/O layer
    serialises it."""

    message: Final[Message | KeepAlive]
    dest: Final[Address]
    transport: Final[str]

    def __init__(self, *, message: Message | KeepAlive, dest: Address, transport: str) -> None:
        self.message = message
        self.dest = dest
        self.transport = transport


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class RequestReceived:
    """A new request for the user. ``key`` is None for an ACK to a 2xx (no transaction)."""

    request: Final[Request]
    source: Final[Address]
    transport: Final[str]
    key: Final[TxKey | None]

    def __init__(
        self, *, request: Request, source: Address, transport: str, key: TxKey | None
    ) -> None:
        self.request = request
        self.source = source
        self.transport = transport
        self.key = key


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class ResponseReceived:
    """A response to a request we sent. ``local`` marks one we made ourselves:
    408 when the transaction timed out, 503 on a transport error (RFC 3261 8.1.3.1)."""

    response: Final[Response]
    request: Final[Request]
    key: Final[TxKey]
    local: Final[bool]

    def __init__(
        self, *, response: Response, request: Request, key: TxKey, local: bool = False
    ) -> None:
        self.response = response
        self.request = request
        self.key = key
        self.local = local


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class StrayResponse:
    """A response no client transaction claims (e.g. a retransmitted 2xx to INVITE)."""

    response: Final[Response]
    source: Final[Address]
    transport: Final[str]

    def __init__(self, *, response: Response, source: Address, transport: str) -> None:
        self.response = response
        self.source = source
        self.transport = transport


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class TransactionTerminated:
    key: Final[TxKey]
    reason: Final[str]  # "completed", "timeout", "transport error"

    def __init__(self, *, key: TxKey, reason: str) -> None:
        self.key = key
        self.reason = reason


Event = RequestReceived | ResponseReceived | StrayResponse | TransactionTerminated
