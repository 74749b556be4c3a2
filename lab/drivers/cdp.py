"""A client of the Chrome DevTools Protocol: JSON commands and events over one WebSocket
(wsproto's frames on an asyncio connection), the few methods a page driver needs."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

from lab.errors import LabError


class CdpClient:
    """One DevTools WebSocket (a page's): ``call`` a method and await its result; events go
    to ``on_event(method, params)``; ``lost`` is set once the connection is gone."""

    def __init__(self, on_event: Callable[[str, dict[str, Any]], None]) -> None:
        self.on_event = on_event
        self.lost = asyncio.Event()
        self.why = ""
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None

    async def connect(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.hostname is None or parts.port is None:
            raise LabError(f"DevTools gave no usable address: {url}")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port, limit=1 << 24), timeout
        )
        self._writer = writer
        host = f"{parts.hostname}:{parts.port}"
        writer.write(self._ws.send(Request(host=host, target=parts.path)))
        opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._reader_task = asyncio.create_task(self._read(reader, opened))
        await asyncio.wait_for(opened, timeout)

    async def _read(self, reader: asyncio.StreamReader, opened: asyncio.Future[None]) -> None:
        parts: list[str | bytes] = []
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    self._gone("the browser closed its DevTools connection")
                    break
                self._ws.receive_data(data)
                for event in self._ws.events():
                    if isinstance(event, AcceptConnection):
                        opened.set_result(None)
                    elif isinstance(event, RejectConnection):
                        opened.set_exception(LabError("DevTools refused the connection"))
                    elif isinstance(event, Ping):
                        self._send(self._ws.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        self._gone("the browser closed its DevTools connection")
                    elif isinstance(event, Message):
                        parts.append(event.data)
                        if event.message_finished:
                            text = "".join(p if isinstance(p, str) else p.decode() for p in parts)
                            parts.clear()
                            self._dispatch(json.loads(text))
        except (ConnectionError, OSError) as exc:
            self._gone(f"the DevTools connection was lost: {exc}")
        finally:
            if not opened.done():
                opened.set_exception(LabError(self.why or "DevTools did not open"))
            self._gone(self.why or "the DevTools connection ended")

    def _gone(self, why: str) -> None:
        if not self.lost.is_set():
            self.why = why
            self.lost.set()
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(LabError(why))

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            fut = self._waiting.pop(message["id"], None)
            if fut is not None and not fut.done():
                if "error" in message:
                    fut.set_exception(LabError(f"DevTools: {message['error'].get('message')}"))
                else:
                    fut.set_result(message.get("result", {}))
        elif "method" in message:
            self.on_event(message["method"], message.get("params", {}))

    def _send(self, data: bytes) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(data)

    async def call(self, method: str, timeout: float = 10.0, **params: Any) -> dict[str, Any]:
        if self.lost.is_set():
            raise LabError(self.why)
        ident = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = fut
        text = json.dumps({"id": ident, "method": method, "params": params})
        self._send(self._ws.send(TextMessage(data=text)))
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise LabError(f"DevTools did not answer {method} within {timeout:g} s") from None
        finally:
            self._waiting.pop(ident, None)

    async def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._send(self._ws.send(CloseConnection(code=1000)))
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task

