"""Toxiproxy's HTTP API (``/proxies``, ``/proxies/{name}/toxics``, ``/reset``, ``/version``,
``/populate``) served by geolab's fault proxy, for TCP and UDP proxies alike.

A proxy may carry ``"protocol": "udp"`` or ``"ws"`` (geolab's extensions; Toxiproxy's proxies
are TCP): ``ws`` relays TCP frame by frame and records the SIP inside WebSocket frames.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from lab.errors import ApiError, ToxicError
from lab.faults.proxy import Proxy, parse_addr

log = logging.getLogger("lab.faults.api")
VERSION = "geolab-0.1 (toxiproxy API 2)"
WATCH_BUFFER = 32 << 20  # bytes a watcher may fall behind before it is let go
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    500: "Internal Server Error",
}


class FaultServer:
    def __init__(self, seed: int = 0) -> None:
        self.proxies: dict[str, Proxy] = {}
        self.seed = seed
        self.server: asyncio.Server | None = None
        self.address: tuple[str, int] = ("", 0)
        self.watchers: set[asyncio.StreamWriter] = set()  # GET /observations streams

    def record(self, observation: dict[str, Any]) -> None:
        """One unit that crossed a proxy, to every watcher (a JSON line each)."""
        if not self.watchers:
            return
        line = json.dumps(observation, separators=(",", ":")).encode() + b"\n"
        for writer in list(self.watchers):
            transport = writer.transport
            if writer.is_closing() or transport.get_write_buffer_size() > WATCH_BUFFER:
                self.watchers.discard(writer)  # gone, or not reading: let go of it
                writer.close()
                continue
            writer.write(line)

    async def _watch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Stream observations to this client until it goes."""
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
                     b"Connection: close\r\n\r\n")  # fmt: skip
        await writer.drain()
        self.watchers.add(writer)
        self._recording()
        try:
            while await reader.read(4096):
                pass  # the client sends nothing; its end closes the stream
        finally:
            self.watchers.discard(writer)
            self._recording()

    def _recording(self) -> None:
        """Proxies record only while someone watches (no cost otherwise)."""
        for proxy in self.proxies.values():
            proxy.recorder = self.record if self.watchers else None

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._connection, host, port, reuse_address=True)
        self.address = self.server.sockets[0].getsockname()[:2]

    async def close(self) -> None:
        for proxy in self.proxies.values():
            await proxy.set_enabled(False)
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    # --- HTTP -----------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                length, keep_alive = 0, True
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                    if name.strip().lower() == "connection" and value.strip().lower() == "close":
                        keep_alive = False
                body = await reader.readexactly(length) if length else b""
                if method == "GET" and path.split("?", 1)[0].rstrip("/") == "/observations":
                    await self._watch(reader, writer)
                    return
                status, payload = await self.dispatch(method, path, body)
                data = b"" if payload is None else json.dumps(payload).encode()
                head = (
                    f"HTTP/1.1 {status} {REASONS.get(status, '')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                    f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
                )
                writer.write(head.encode() + data)
                await writer.drain()
                if not keep_alive:
                    return
        except (ConnectionError, ValueError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    async def dispatch(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError as exc:
            return 400, {"error": f"bad JSON: {exc.msg}", "status": 400}
        try:
            return await self._route(
                method, path.split("?", maxsplit=1)[0].rstrip("/") or "/", data
            )
        except ApiError as exc:
            return exc.status, {"error": str(exc), "status": exc.status}
        except (ToxicError, ValueError, TypeError) as exc:
            return 400, {"error": str(exc), "status": 400}
        except OSError as exc:
            return 409, {"error": f"cannot listen: {exc.strerror}", "status": 409}

    async def _route(self, method: str, path: str, data: Any) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p]
        if parts == ["version"] and method == "GET":
            return 200, {"version": VERSION}
        if parts == ["reset"] and method == "POST":
            for proxy in self.proxies.values():
                proxy.toxics.clear()
                await proxy.set_enabled(True)
            return 204, None
        if parts == ["populate"] and method == "POST":
            items = data if isinstance(data, list) else []
            created = [await self._create(item, replace=True) for item in items]
            return 201, {"proxies": [p.to_json() for p in created]}
        if parts == ["proxies"]:
            if method == "GET":
                return 200, {name: p.to_json() for name, p in self.proxies.items()}
            if method == "POST":
                return 201, (await self._create(data, replace=False)).to_json()
        if len(parts) >= 2 and parts[0] == "proxies":
            proxy = self._proxy(parts[1])
            if len(parts) == 2:
                if method == "GET":
                    return 200, proxy.to_json()
                if method in ("POST", "PATCH"):
                    if "enabled" in data:
                        await proxy.set_enabled(bool(data["enabled"]))
                    return 200, proxy.to_json()
                if method == "DELETE":
                    await proxy.set_enabled(False)
                    del self.proxies[proxy.name]
                    return 204, None
            if len(parts) == 3 and parts[2] == "forget" and method == "POST":
                proxy.forget(str(data.get("mode", "")))  # geolab's own: transport state
                return 204, None
            if len(parts) == 3 and parts[2] == "toxics":
                if method == "GET":
                    return 200, [t.to_json() for t in proxy.toxics]
                if method == "POST":
                    try:
                        return 200, proxy.add_toxic(data).to_json()
                    except KeyError as exc:
                        raise ApiError(409, str(exc.args[0])) from None
            if len(parts) == 4 and parts[2] == "toxics":
                try:
                    if method == "GET":
                        return 200, proxy.toxic(parts[3]).to_json()
                    if method in ("POST", "PATCH"):
                        return 200, proxy.update_toxic(parts[3], data).to_json()
                    if method == "DELETE":
                        proxy.remove_toxic(parts[3])
                        return 204, None
                except LookupError as exc:
                    raise ApiError(404, str(exc.args[0])) from None
        raise ApiError(
            404 if method in ("GET", "POST", "DELETE", "PATCH") else 405,
            f"no route {method} {path}",
        )

    def _proxy(self, name: str) -> Proxy:
        try:
            return self.proxies[name]
        except KeyError:
            raise ApiError(404, "proxy not found") from None

    async def _create(self, data: Any, *, replace: bool) -> Proxy:
        if not isinstance(data, dict) or not data.get("name"):
            raise ApiError(400, "a proxy needs a name")
        name = str(data["name"])
        if name in self.proxies:
            if not replace:
                raise ApiError(409, "proxy already exists")
            await self.proxies.pop(name).set_enabled(False)
        proxy = Proxy(
            name,
            parse_addr(str(data.get("listen", ""))),
            parse_addr(str(data.get("upstream", ""))),
            protocol=str(data.get("protocol", "tcp")),
            seed=self.seed,
        )
        proxy.recorder = self.record if self.watchers else None
        if data.get("enabled", True):
            await proxy.set_enabled(True)
        self.proxies[name] = proxy
        return proxy
