"""``SipStack``: one transaction layer on real sockets, driven by one re-armed timer."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from types import TracebackType

from endpoint.aio.sockets import Sockets
from endpoint.sip.auth import DigestClient
from endpoint.sip.builder import via_value
from endpoint.sip.events import (
    Address,
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TxKey,
)
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.message import Message, Request, Response, make_response
from endpoint.sip.timers import TimerConfig

log = logging.getLogger("endpoint.stack")

OnRequest = Callable[[RequestReceived], None]
OnResponse = Callable[[ResponseReceived], None]
OnStray = Callable[[StrayResponse], None]


class OneTimer:
    """Keeps exactly one ``loop.call_at`` armed at a core's ``next_timer()``."""

    def __init__(self, fire: Callable[[], None]) -> None:
        self.fire = fire
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def arm(self, deadline: float | None) -> None:
        if deadline == self._at:
            return
        self.cancel()
        self._at = deadline
        if deadline is not None:
            self._handle = asyncio.get_running_loop().call_at(deadline, self._fired)

    def _fired(self) -> None:
        self._handle = None
        self._at = None
        self.fire()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._at = None


class SipStack:
    """Listens on ``host`` (UDP and/or TCP on one port; ws on ``ws_port`` where given) and
    runs a TransactionLayer."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        transports: tuple[str, ...] = ("udp", "tcp"),
        timers: dict[str, TimerConfig] | None = None,
        rng: random.Random | None = None,
        ws_port: int | None = None,
    ) -> None:
        self.layer = TransactionLayer(timers)
        self.ids = IdSource(rng)
        self.sockets = Sockets(
            host,
            port,
            transports,
            on_message=self._on_message,
            on_failure=self._fail,
            connect_timeout=self.layer.timer_config("tcp").timeout,
            ws_port=ws_port,
        )
        self.on_request: OnRequest | None = None
        self.on_stray: OnStray | None = None
        self.on_response: OnResponse | None = None
        self._pending: dict[TxKey, asyncio.Future[ResponseReceived]] = {}
        self._timer = OneTimer(self._on_timer)
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def host(self) -> str:
        return self.sockets.host

    @property
    def port(self) -> int:
        return self.sockets.port

    @property
    def closed(self) -> bool:
        return self.sockets.closed

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> SipStack:
        self._loop = asyncio.get_running_loop()
        await self.sockets.start()
        return self

    async def close(self) -> None:
        if self.closed:
            return
        self._timer.cancel()
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        await self.sockets.close()

    async def __aenter__(self) -> SipStack:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def now(self) -> float:
        assert self._loop is not None, "stack not started"
        return self._loop.time()

    @property
    def rejected(self) -> int:
        """How many malformed messages were dropped."""
        return self.sockets.rejected

    def local_address(self) -> Address:
        return (self.host, self.port)

    def via(self, transport: str) -> str:
        return via_value(transport, self.host, self.port, self.ids.branch())

    # --- the user's API -----------------------------------------------------------------
    def send(
        self, request: Request, dest: Address, transport: str
    ) -> asyncio.Future[ResponseReceived]:
        """Start a client transaction; the future gets the final response event, whose
        ``local`` flag marks a 408 (timeout) or 503 (transport error) made here."""
        assert self._loop is not None, "stack not started"
        if request.method == "ACK":
            raise ValueError("send an ACK with send_stateless()")
        key = self.layer.send_request(request, dest, transport.lower(), self.now)
        fut: asyncio.Future[ResponseReceived] = self._loop.create_future()
        self._pending[key] = fut
        self._pump()
        return fut

    async def transact(self, request: Request, dest: Address, transport: str) -> ResponseReceived:
        return await self.send(request, dest, transport)

    async def request(self, request: Request, dest: Address, transport: str) -> Response:
        return (await self.send(request, dest, transport)).response

    async def request_with_auth(
        self, request: Request, dest: Address, transport: str, credentials: DigestClient | None
    ) -> tuple[Request, Response]:
        """Send; answer one 401/407 challenge if credentials are given."""
        response = await self.request(request, dest, transport)
        if response.status in (401, 407) and credentials is not None:
            request = credentials.retry(
                request, response, branch=self.ids.branch(), cnonce=self.ids.cnonce()
            )
            response = await self.request(request, dest, transport)
        return request, response

    def respond(self, key: TxKey, response: Response) -> None:
        self.layer.send_response(response, self.now, key)
        self._pump()

    def send_stateless(self, message: Message, dest: Address, transport: str) -> None:
        self.layer.send_stateless(message, dest, transport.lower())
        self._pump()

    # --- driving the layer --------------------------------------------------------------
    def _on_message(self, message: Message, source: Address, transport: str) -> None:
        try:
            self.layer.receive(message, source, transport, self.now)
        except Exception:  # a message that parses but breaks a state machine
            log.exception("dropped message from %s:%s", *source)
            return
        self._pump()

    def _on_timer(self) -> None:
        self.layer.handle_timer(self.now)
        self._pump()

    def _fail(self, dest: Address, transport: str, why: str = "") -> None:
        if self.closed:
            return
        self.layer.transport_error(dest, transport, self.now, why)
        self._pump()

    def _pump(self) -> None:
        for out in self.layer.datagrams_to_send():
            self.sockets.transmit(out)
        while (event := self.layer.next_event()) is not None:
            if isinstance(event, ResponseReceived):
                if self.on_response is not None:
                    self.on_response(event)
                if event.response.status >= 200:
                    fut = self._pending.pop(event.key, None)
                    if fut is not None and not fut.done():
                        fut.set_result(event)
            elif isinstance(event, RequestReceived):
                if self.on_request is not None:
                    self.on_request(event)
                elif event.key is not None:
                    self.layer.send_response(make_response(event.request, 501), self.now, event.key)
            elif isinstance(event, StrayResponse) and self.on_stray is not None:
                self.on_stray(event)
        for out in self.layer.datagrams_to_send():
            self.sockets.transmit(out)
        if not self.closed:
            self._timer.arm(self.layer.next_timer())
