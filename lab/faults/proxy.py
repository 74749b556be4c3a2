"""The fault proxy: one listening address, one upstream, TCP or UDP, toxics in between.

UDP: each client address gets its own upstream socket (bound on the proxy's address), so
the site sees the proxy as the client and sends its own requests back through it, as it
would through a NAT. TCP: one upstream connection per client connection; the byte stream
is cut into SIP messages so SIP-aware toxics see whole messages (anything that does not
frame as SIP passes as raw chunks).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any

from lab.faults.tcp import Tcp
from lab.faults.toxics import LinkState, Outcome, Toxic, apply, make_toxic

log = logging.getLogger("lab.faults.proxy")
Addr = tuple[str, int]


def upstream_bind(listen: Addr, upstream: Addr) -> str:
    """Where upstream sockets bind: the proxy's own address towards loopback sites, any
    address towards others (a loopback source cannot reach a container's network)."""
    return listen[0] if upstream[0].startswith("127.") else "0.0.0.0"


def parse_addr(text: str) -> Addr:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {text!r}")
    return host.strip("[]"), int(port)


class Proxy:
    def __init__(
        self, name: str, listen: Addr, upstream: Addr, *, protocol: str = "tcp", seed: int = 0
    ) -> None:
        if protocol not in ("tcp", "udp", "ws"):
            raise ValueError(f"protocol must be tcp, udp or ws, got {protocol!r}")
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.protocol = protocol
        self.seed = seed
        self.enabled = False
        self.toxics: list[Toxic] = []
        self._impl: _Udp | Tcp | None = None
        # every unit that crosses (see :meth:`process`), for the lab's record of the wire
        self.recorder: Callable[[dict[str, Any]], None] | None = None

    @property
    def idle(self) -> bool:
        """No toxic and no recorder: a unit crosses untouched, and need not be looked at."""
        return not self.toxics and self.recorder is None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": f"{self.listen[0]}:{self.listen[1]}",
            "upstream": f"{self.upstream[0]}:{self.upstream[1]}",
            "enabled": self.enabled,
            "protocol": self.protocol,
            "toxics": [t.to_json() for t in self.toxics],
        }

    async def set_enabled(self, enabled: bool) -> None:
        if enabled == self.enabled:
            return
        if enabled:
            bind = upstream_bind(self.listen, self.upstream)
            impl: _Udp | Tcp = (
                _Udp(self, bind)
                if self.protocol == "udp"
                else Tcp(self, bind, websocket=self.protocol == "ws")
            )
            await impl.start()
            self._impl = impl
            if self.listen[1] == 0:
                self.listen = impl.bound
        elif self._impl is not None:
            await self._impl.stop()
            self._impl = None
        self.enabled = enabled

    def forget(self, mode: str) -> None:
        """The state of what crosses, forgotten at once: over a stream, ``reset`` (a
        virtual IP moved: each open connection's site side is gone, and the client's next
        segment is answered with a reset) or ``nothing`` (the site forgot it: the client's
        next segments get no answer at all); over UDP, ``rebind`` (a NAT's new mapping:
        each flow leaves for the site from a new source port, and what the site sends to
        the old one is lost)."""
        modes = ("rebind",) if self.protocol == "udp" else ("reset", "nothing")
        if mode not in modes:
            raise ValueError(f"a {self.protocol} proxy forgets with {' or '.join(modes)}")
        if self._impl is not None:
            self._impl.forget(mode)

    def add_toxic(self, spec: dict[str, Any]) -> Toxic:
        toxic = make_toxic(spec, protocol=self.protocol, seed=self.seed, proxy=self.name)
        if any(t.name == toxic.name for t in self.toxics):
            raise KeyError(f"toxic {toxic.name!r} already exists")
        self.toxics.append(toxic)
        return toxic

    def update_toxic(self, name: str, spec: dict[str, Any]) -> Toxic:
        old = self.toxic(name)
        merged = {
            **old.to_json(),
            **spec,
            "attributes": {**old.attributes, **spec.get("attributes", {})},
        }
        new = make_toxic(merged, protocol=self.protocol, seed=self.seed, proxy=self.name)
        self.toxics[self.toxics.index(old)] = new
        return new

    def remove_toxic(self, name: str) -> None:
        self.toxics.remove(self.toxic(name))

    def toxic(self, name: str) -> Toxic:
        for toxic in self.toxics:
            if toxic.name == name:
                return toxic
        raise LookupError(f"toxic {name!r} not found")

    def process(
        self, data: bytes, stream: str, link: LinkState, now: float, client: Addr | None = None,
        shown: bytes | None = None,
    ) -> Outcome:
        """What the toxics make of one unit (a datagram, a framed SIP message, a chunk, a
        WebSocket frame) going ``stream`` (upstream: from the endpoint to the site); it is
        recorded (``shown``, where that is not the unit itself: the SIP in a WebSocket
        frame, or nothing), with whether anything of it goes on."""
        out = apply(self.toxics, data, stream, now, link, per_unit_toxicity=self.protocol == "udp")
        if shown is not None:
            data = shown
        elif len(out.deliveries) == 1 and len(out.deliveries[0][1]) == len(data):
            data = out.deliveries[0][1]  # what went on: bytes a fault flipped, flipped
        if self.recorder is not None and client is not None and data.strip():
            self._record(now, stream, client, data, bool(out.deliveries))
            if out.reply is not None:  # the proxy's own answer crosses the wire back
                back = "downstream" if stream == "upstream" else "upstream"
                self._record(now, back, client, out.reply, True)
        return out

    def lost(
        self, data: bytes, stream: str, now: float, client: Addr | None, shown: bytes | None
    ) -> None:
        """A unit that crossed to the proxy and went no further (a connection the site
        forgot): recorded as not delivered."""
        data = shown if shown is not None else data
        if self.recorder is not None and client is not None and data.strip():
            self._record(now, stream, client, data, False)

    def _record(self, now: float, stream: str, client: Addr, data: bytes, delivered: bool) -> None:
        assert self.recorder is not None
        self.recorder({
            "t": now, "proxy": self.name, "protocol": self.protocol, "stream": stream,
            "client": f"{client[0]}:{client[1]}", "listen": f"{self.listen[0]}:{self.listen[1]}",
            "upstream": f"{self.upstream[0]}:{self.upstream[1]}",
            "data": base64.b64encode(data).decode(), "delivered": delivered,
        })  # fmt: skip


UDP_RECEIVE_BUFFER = 4 << 20


def _room_for_bursts(sock: socket.socket) -> None:
    """A receive buffer for a storm's burst of datagrams (capped by net.core.rmem_max)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)


class _Udp:
    def __init__(self, proxy: Proxy, bind: str) -> None:
        self.proxy = proxy
        self.bind = bind  # the address session sockets send to the site from
        self.loop = asyncio.get_running_loop()
        self.sock: socket.socket | None = None
        self.sessions: dict[Addr, tuple[socket.socket, LinkState, LinkState]] = {}
        self.bound: Addr = proxy.listen
        self.site: Addr = proxy.upstream  # its address as datagrams from it carry it

    async def start(self) -> None:
        found = await self.loop.getaddrinfo(
            *self.proxy.upstream, family=socket.AF_INET, type=socket.SOCK_DGRAM
        )
        self.site = (str(found[0][4][0]), int(found[0][4][1]))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        _room_for_bursts(sock)
        sock.bind(self.proxy.listen)
        sock.setblocking(False)
        self.sock = sock
        self.bound = sock.getsockname()
        self.loop.add_reader(sock, self._from_clients)

    async def stop(self) -> None:
        for up, _, _ in self.sessions.values():
            self.loop.remove_reader(up)
            up.close()
        self.sessions.clear()
        if self.sock is not None:
            self.loop.remove_reader(self.sock)
            self.sock.close()
            self.sock = None

    def forget(self, mode: str) -> None:
        """Every flow's session socket closed: the next datagram leaves from a new one."""
        for up, _, _ in self.sessions.values():
            self.loop.remove_reader(up)
            up.close()
        self.sessions.clear()

    def _session(self, client: Addr) -> tuple[socket.socket, LinkState, LinkState]:
        found = self.sessions.get(client)
        if found is None:
            up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            _room_for_bursts(up)  # one client may be a whole fleet on one socket
            up.bind((self.bind, 0))
            # not connected: a dead site's ICMP errors then never reach the socket (uvloop,
            # like libuv, stops watching a socket that reports one), and what it receives is
            # taken from the site's address only
            up.setblocking(False)
            found = (up, LinkState(), LinkState())
            self.sessions[client] = found
            self.loop.add_reader(up, self._from_upstream, client)
        return found

    def _from_clients(self) -> None:
        assert self.sock is not None
        for _ in range(64):
            try:
                data, client = self.sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            up, up_link, _ = self._session(client)
            if self.proxy.idle:  # nothing to do to it, no one watching: straight on
                with contextlib.suppress(OSError):
                    up.sendto(data, self.site)
                continue
            out = self.proxy.process(data, "upstream", up_link, self.loop.time(), client)
            for delay, chunk in out.deliveries:
                self._later(delay, up.sendto, chunk, self.site)
            if out.reply is not None:
                self._later(0.0, self.sock.sendto, out.reply, client)

    def _from_upstream(self, client: Addr) -> None:
        found = self.sessions.get(client)
        if found is None or self.sock is None:
            return
        up, _, down_link = found
        for _ in range(64):
            try:
                data, source = up.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if source[:2] != self.site:
                continue  # not from the site
            if self.proxy.idle:
                with contextlib.suppress(OSError):
                    self.sock.sendto(data, client)
                continue
            out = self.proxy.process(data, "downstream", down_link, self.loop.time(), client)
            for delay, chunk in out.deliveries:
                self._later(delay, self.sock.sendto, chunk, client)
            if out.reply is not None:
                self._later(0.0, up.sendto, out.reply, self.site)

    def _later(self, delay: float, send: Callable[..., object], *args: object) -> None:
        def fire() -> None:
            with contextlib.suppress(OSError):
                send(*args)

        if delay <= 0:
            fire()
        else:
            self.loop.call_later(delay, fire)
