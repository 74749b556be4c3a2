"""A small typed async client of the Toxiproxy HTTP API.

Why not toxiproxy-python: it keeps the server's host and port as process-wide class
attributes (two labs in one process would share them), calls ``requests`` without
timeouts (a hung server hangs the drill) and is synchronous. This client takes its base
address per instance, always times out, and works with a real ``toxiproxy-server`` (TCP
proxies) and with geolab's fault proxy (TCP and UDP) alike.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from lab.errors import LabError, ToxiproxyError


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    name: str
    listen: str
    upstream: str
    enabled: bool
    protocol: str
    toxics: list[dict[str, Any]]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProxyInfo:
        return cls(
            name=data["name"],
            listen=data["listen"],
            upstream=data["upstream"],
            enabled=bool(data["enabled"]),
            protocol=data.get("protocol", "tcp"),
            toxics=list(data.get("toxics") or []),
        )


class ToxiproxyClient:
    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        request = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + data
        where = f"{method} {path}"
        try:
            async with asyncio.timeout(self.timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    writer.write(request)
                    await writer.drain()
                    raw = await reader.read()
                finally:
                    writer.close()
        except (OSError, TimeoutError) as exc:
            raise LabError(
                f"fault proxy API at {self.host}:{self.port} unreachable ({where}): {exc!r}",
                hint="is the fault proxy running? (geolab up starts one)",
            ) from None
        head, _, payload = raw.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        parsed = json.loads(payload) if payload.strip() else None
        if status >= 400:
            message = parsed.get("error", "") if isinstance(parsed, dict) else str(parsed)
            raise ToxiproxyError(status, message, where)
        return parsed

    async def version(self) -> str:
        result = await self._call("GET", "/version")
        return str(result.get("version") if isinstance(result, dict) else result)

    async def proxies(self) -> dict[str, ProxyInfo]:
        result = await self._call("GET", "/proxies")
        return {name: ProxyInfo.from_json(p) for name, p in result.items()}

    async def create_proxy(
        self, name: str, listen: str, upstream: str, *, protocol: str = "tcp", enabled: bool = True
    ) -> ProxyInfo:
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        if protocol != "tcp":
            body["protocol"] = protocol
        return ProxyInfo.from_json(await self._call("POST", "/proxies", body))

    async def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        return ProxyInfo.from_json(
            await self._call("POST", f"/proxies/{name}", {"enabled": enabled})
        )

    async def forget(self, name: str, mode: str) -> None:
        """geolab's proxy only (not Toxiproxy's API): the proxy forgets its connections'
        state (``reset``, ``nothing``: see :meth:`lab.faults.proxy.Proxy.forget`) or
        rebinds its UDP flows (``rebind``)."""
        await self._call("POST", f"/proxies/{name}/forget", {"mode": mode})

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{name}")

    async def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        **attributes: Any,
    ) -> dict[str, Any]:
        body = {"type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        if name is not None:
            body["name"] = name
        result: dict[str, Any] = await self._call("POST", f"/proxies/{proxy}/toxics", body)
        return result

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", f"/proxies/{proxy}/toxics/{name}")

    async def reset(self) -> None:
        await self._call("POST", "/reset")
