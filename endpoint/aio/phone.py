"""``AsyncPhone``: the sans-I/O phone on real sockets, with async events and callbacks."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

from endpoint.aio.sockets import Sockets
from endpoint.aio.stack import OneTimer
from endpoint.aio.tls import TlsPeer
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.connection import Connection
from endpoint.core.events import PhoneEvent
from endpoint.core.phone import Phone
from endpoint.core.rfc3263 import DnsQuery
from endpoint.sip.events import Address
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.message import Message

log = logging.getLogger("endpoint.phone")
Callback = Callable[[PhoneEvent], None]


class AsyncPhone:
    def __init__(
        self,
        config: EndpointConfig,
        *,
        rng: random.Random | None = None,
        sockets: Callable[..., Any] = Sockets,
    ) -> None:
        """``sockets`` builds the transport (``Sockets`` on real sockets; the simulator
        passes its own, with the same signature)."""
        self.config = config
        self.sockets = sockets(
            config.local_host,
            config.local_port,
            ("udp", "tcp", "tls", "ws", "wss"),
            on_message=self._on_message,
            on_failure=self._on_failure,
            on_keepalive=self._on_keepalive,
            on_lost=self._on_lost,
            tls_peer=self._tls_peer,
        )
        self._rng = rng
        self.core: Phone | None = None
        self._timer = OneTimer(self._on_timer)
        self._queues: list[asyncio.Queue[PhoneEvent]] = []
        self._callbacks: list[Callback] = []
        # (direction "in"/"out", message, peer address, transport): a wire tap for reports
        self.taps: list[Callable[[str, Message, Address, str], None]] = []
        self.history: list[PhoneEvent] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._settled = asyncio.Event()  # set when no unregistration is awaiting its answer
        self._asking: set[asyncio.Task[None]] = set()  # DNS questions under way

    # --- lifecycle ------------------------------------------------------------------------
    async def open(self) -> AsyncPhone:
        """Bind the sockets without registering yet (``start`` does both)."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            await self.sockets.start()
        return self

    async def start(self) -> AsyncPhone:
        """Open the sockets (unless :meth:`open` did) and register every enabled connection.
        A site named by host name is found by the core as RFC 3263 says (the questions
        asked here, of ``config.dns_server`` or the system's resolver)."""
        await self.open()
        self.core = Phone(
            self.config,
            local_host=self.sockets.host,
            local_port=self.sockets.port,
            ids=IdSource(self._rng),
        )
        self.core.start(self.now)
        self._pump()
        return self

    async def close(self, *, unregister: bool = True, grace: float = 2.0) -> None:
        """Unregister Available connections (waiting up to ``grace`` s), then close."""
        if self.core is not None and unregister and not self.sockets.closed:
            self._settled.clear()
            self.core.shutdown(self.now)
            self._pump()
            try:
                await asyncio.wait_for(self._settled.wait(), grace)
            except TimeoutError:
                log.warning("some sites did not answer the unregistration within %.1fs", grace)
        self._timer.cancel()
        for task in self._asking:
            task.cancel()
        await self.sockets.close()

    async def __aenter__(self) -> AsyncPhone:
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
        assert self._loop is not None, "phone not started"
        return self._loop.time()

    @property
    def phone(self) -> Phone:
        assert self.core is not None, "phone not started"
        return self.core

    @property
    def local_address(self) -> Address:
        return (self.sockets.host, self.sockets.port)

    # --- the API (same as the SDK's, each acting now) --------------------------------------
    @property
    def connections(self) -> dict[int, Connection]:
        return self.phone.connections

    def add_connection(self, cfg: ConnectionConfig) -> None:
        self._act(lambda now: self.phone.add_connection(cfg, now))

    def enable_connection(self, conn_id: int) -> None:
        self._act(lambda now: self.phone.enable_connection(conn_id, now))

    def disable_connection(self, conn_id: int) -> None:
        self._act(lambda now: self.phone.disable_connection(conn_id, now))

    def remove_connection(self, conn_id: int) -> None:
        self._act(lambda now: self.phone.remove_connection(conn_id, now))

    def dial(self, conn_id: int, destination: str) -> str:
        sid = self.phone.calls.dial(conn_id, destination, self.now)
        self._pump()
        return sid

    def answer(self, sid: str) -> None:
        self._act(lambda now: self.phone.calls.answer(sid, now))

    def hangup(self, sid: str) -> None:
        self._act(lambda now: self.phone.calls.hangup(sid, now))

    def hold(self, sid: str) -> None:
        self._act(lambda now: self.phone.calls.hold(sid, now))

    def resume(self, sid: str) -> None:
        self._act(lambda now: self.phone.calls.resume(sid, now))

    def _act(self, action: Callable[[float], object]) -> None:
        try:
            action(self.now)
        finally:
            self._pump()

    # --- events ---------------------------------------------------------------------------
    def subscribe(self, callback: Callback) -> None:
        self._callbacks.append(callback)

    async def events(self) -> AsyncIterator[PhoneEvent]:
        """Every event from now on (plus none from the past)."""
        queue: asyncio.Queue[PhoneEvent] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    async def wait_for(
        self, predicate: Callable[[PhoneEvent], bool], timeout: float, *, since: int = 0
    ) -> PhoneEvent:
        """The first event (from index ``since`` of :attr:`history` on) that matches."""
        for event in self.history[since:]:
            if predicate(event):
                return event
        queue: asyncio.Queue[PhoneEvent] = asyncio.Queue()
        self._queues.append(queue)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    event = await queue.get()
                    if predicate(event):
                        return event
        finally:
            self._queues.remove(queue)

    # --- driving the core -----------------------------------------------------------------
    def _on_message(self, message: Message, source: Address, transport: str) -> None:
        for tap in self.taps:
            tap("in", message, source, transport)
        self.phone.receive(message, source, transport, self.now)
        self._pump()

    def _on_failure(self, dest: Address, transport: str, why: str = "") -> None:
        self.phone.transport_failed(dest, transport, self.now, why)
        self._pump()

    def _on_lost(self, dest: Address, transport: str = "tcp") -> None:
        self.phone.connection_lost(dest, self.now, transport)
        self._pump()

    def _tls_peer(self, dest: Address) -> TlsPeer | None:
        settings = self.core.tls_settings(dest) if self.core is not None else None
        return TlsPeer(*settings) if settings is not None else None

    def _on_keepalive(self, kind: KeepAlive, source: Address, transport: str) -> None:
        self.phone.keepalive_received(kind, source, transport, self.now)
        self._pump()

    def _on_timer(self) -> None:
        self.phone.handle_timer(self.now)
        self._pump()

    async def _ask(self, query: DnsQuery) -> None:
        answer = await self.sockets.ask(query, self.config.dns_server, self.config.dns_timeout)
        if not self.sockets.closed:
            self.phone.dns_answered(query.id, answer, self.now)
            self._pump()

    def _pump(self) -> None:
        core = self.phone
        for query in core.dns_queries():
            task = asyncio.ensure_future(self._ask(query))
            self._asking.add(task)
            task.add_done_callback(self._asking.discard)
        for dest, _ in core.flows_to_close():
            self.sockets.drop_connection(dest)
        for out in core.datagrams_to_send():
            if self.taps and not isinstance(out.message, KeepAlive):
                for tap in self.taps:
                    tap("out", out.message, out.dest, out.transport)
            self.sockets.transmit(out)
        while (event := core.next_event()) is not None:
            self.history.append(event)
            for queue in self._queues:
                queue.put_nowait(event)
            for callback in self._callbacks:
                try:
                    callback(event)
                except Exception:
                    log.exception("event callback failed")
        if not core.pending("unregister"):
            self._settled.set()
        if not self.sockets.closed:
            self._timer.arm(core.next_timer())
