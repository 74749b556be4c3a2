"""What crosses a network that parties and endpoints attach to by address: a message as
bytes (parsed again on arrival, as on a real wire) or as a message object (a simulated
fleet's: each receiver gets its own copy, nothing is serialised or parsed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from endpoint.sip.events import Address
from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message
from endpoint.sip.parser import parse_message

Payload = bytes | Message
Deliver = Callable[[Payload, Address, str], None]
Wire = Literal["bytes", "objects"]


def encode(message: Message | KeepAlive, wire: Wire) -> Payload:
    """What goes on the simulated wire for ``message``."""
    if isinstance(message, KeepAlive):
        return message.value
    return message.copy() if wire == "objects" else message.serialise()


def decode(data: Payload, transport: str) -> Message:
    """The message that arrived: parsed from bytes (ParseError if malformed) or as sent."""
    if isinstance(data, bytes):
        return parse_message(data, stream=transport in ("tcp", "tls"))
    return data
