"""What the transaction layer hands to its user: events in, messages out."""

from __future__ import annotations

from dataclasses import dataclass

from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message, Request, Response

Address = tuple[str, int]
TxKey = tuple[str, str, str]  # (branch, method, sent-by or "client")


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """A message (or an RFC 5626 keep-alive) to put on the wire; the I/O layer
    serialises it."""

    message: Message | KeepAlive
    dest: Address
    transport: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """A new request for the user. ``key`` is None for an ACK to a 2xx (no transaction)."""

    request: Request
    source: Address
    transport: str
    key: TxKey | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    """A response to a request we sent. ``local`` marks one we made ourselves:
    408 when the transaction timed out, 503 on a transport error (RFC 3261 8.1.3.1)."""

    response: Response
    request: Request
    key: TxKey
    local: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StrayResponse:
    """A response no client transaction claims (e.g. a retransmitted 2xx to INVITE)."""

    response: Response
    source: Address
    transport: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionTerminated:
    key: TxKey
    reason: str  # "completed", "timeout", "transport error"


Event = RequestReceived | ResponseReceived | StrayResponse | TransactionTerminated
