"""The lab's record of the wire: every unit that crosses the fault proxy, both ways, UDP
and TCP (``GET /observations``, a stream of JSON lines), as :class:`WireObservation`."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from lab.errors import LabError
from lab.faults.proxy import Addr, parse_addr

log = logging.getLogger("lab.faults.watch")


@dataclass(frozen=True, slots=True)
class WireObservation:
    t: float  # the proxy's clock: the system's monotonic clock, as the lab's loop
    proxy: str  # "<site>-<protocol>"
    protocol: str
    direction: str  # "out": from the endpoint towards the site; "in": towards the endpoint
    client: Addr  # the endpoint's address, as the proxy saw it
    listen: Addr  # the proxy's (the endpoint's target)
    upstream: Addr  # the site's
    data: bytes
    delivered: bool  # False: the proxy's faults dropped it

    @property
    def site(self) -> str:
        return self.proxy.rsplit("-", 1)[0]


def observation(line: bytes) -> WireObservation:
    d = json.loads(line)
    return WireObservation(
        t=float(d["t"]), proxy=str(d["proxy"]), protocol=str(d["protocol"]),
        direction="out" if d["stream"] == "upstream" else "in",
        client=parse_addr(d["client"]), listen=parse_addr(d["listen"]),
        upstream=parse_addr(d["upstream"]), data=base64.b64decode(d["data"]),
        delivered=bool(d["delivered"]),
    )  # fmt: skip


def line_of(seen: WireObservation) -> bytes:
    """``seen`` as the proxy's observation stream writes it (what :func:`observation`
    reads back): a session's record keeps observations in this form."""
    return json.dumps({
        "t": seen.t, "proxy": seen.proxy, "protocol": seen.protocol,
        "stream": "upstream" if seen.direction == "out" else "downstream",
        "client": "{}:{}".format(*seen.client), "listen": "{}:{}".format(*seen.listen),
        "upstream": "{}:{}".format(*seen.upstream),
        "data": base64.b64encode(seen.data).decode(), "delivered": seen.delivered,
    }).encode()  # fmt: skip


class Watch:
    """A connection to the fault proxy's observation stream, handing each observation to
    ``on_observation`` as it comes."""

    def __init__(self, on_observation: Callable[[WireObservation], None]) -> None:
        self.on_observation = on_observation
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> Watch:
        try:
            reader, self.writer = await asyncio.open_connection(host, port, limit=1 << 22)
            self.writer.write(b"GET /observations HTTP/1.1\r\nHost: geolab\r\n\r\n")
            await self.writer.drain()
            status = await asyncio.wait_for(reader.readline(), 5)
            while (await asyncio.wait_for(reader.readline(), 5)) not in (b"\r\n", b""):
                pass
        except (OSError, TimeoutError) as exc:
            raise LabError(f"cannot watch the fault proxy's wire: {exc!r}") from None
        if b" 200 " not in status:
            raise LabError(f"the fault proxy refused to be watched: {status!r}")
        self.task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                try:
                    self.on_observation(observation(line))
                except (KeyError, ValueError, TypeError):
                    log.warning("not an observation: %r", line[:120])

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.writer is not None:
            self.writer.close()
