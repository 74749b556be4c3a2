"""What call handling needs of the phone: a narrow port (as an upper protocol layer uses
only the lower one's public operations), so :class:`endpoint.core.calls.CallControl` is
given this and not the whole :class:`endpoint.core.phone.Phone`."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

from endpoint.config import EndpointConfig
from endpoint.core.connection import Connection
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address, TxKey
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.message import Message, Request, Response


class CallPort(Protocol):
    config: EndpointConfig
    connections: dict[int, Connection]
    local_host: str
    ids: IdSource

    def connection(self, conn_id: int) -> Connection: ...
    def contact(self, conn: Connection) -> str: ...
    def via(self, conn: Connection) -> str: ...
    def emit(self, event: PhoneEvent) -> None: ...
    def mark_unavailable(
        self, conn: Connection, reason: str, code: int | None, now: float
    ) -> None: ...

    # --- transactions and the wire ----------------------------------------------------------
    def send_request(
        self, request: Request, conn: Connection, now: float, *, what: str,
        timeout: float | None = None,
    ) -> TxKey: ...  # fmt: skip
    def send_response(self, response: Response, now: float, key: TxKey | None) -> None: ...
    def send_stateless(
        self, message: Message | KeepAlive, dest: Address, transport: str
    ) -> None: ...
    def abandon(self, key: TxKey) -> None: ...
    def in_progress(self, key: TxKey) -> bool: ...

    # --- timers -----------------------------------------------------------------------------
    def set_deadline(self, owner: Hashable, name: str, when: float) -> None: ...
    def cancel_deadline(self, owner: Hashable, name: str | None = None) -> None: ...
