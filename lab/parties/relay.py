"""A SIPp callee's registrations, kept as a phone keeps its own.

SIPp cannot send a REGISTER while it answers calls, and sites route a user's calls to the
address its REGISTER came from. So a SIPp callee's address is this relay's socket: the
relay registers the party's user there from that socket, registers again when asked (a
site came back, a refresh is due), and passes every other datagram between the sites and
SIPp unchanged (back to whoever sent the call's first message, by Call-ID)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from endpoint.sip import ParseError, Response, parse_message
from endpoint.sip.builder import build_register, via_value
from endpoint.sip.ids import IdSource

log = logging.getLogger("lab.parties")
Addr = tuple[str, int]
RETRANSMIT = (0.5, 1.0, 2.0)  # s between a REGISTER's copies (then it has failed)


class RegisteringRelay:
    def __init__(self, host: str, user: str, sipp: Addr, *, ids: IdSource | None = None) -> None:
        self.host = host
        self.user = user
        self.sipp = sipp  # where SIPp listens
        self.ids = ids or IdSource()
        self.outer: socket.socket | None = None  # the party's address: towards the sites
        self.inner: socket.socket | None = None  # towards SIPp
        self.peers: dict[str, Addr] = {}  # Call-ID -> where the call came from
        self.pending: dict[str, asyncio.Future[int]] = {}  # our REGISTERs' Call-IDs
        self.call_ids: dict[Addr, str] = {}  # a registration per site, as a phone keeps it
        self.cseq = 0

    @property
    def address(self) -> Addr:
        assert self.outer is not None
        host, port = self.outer.getsockname()[:2]
        return str(host), int(port)

    async def start(self, port: int = 5060) -> RegisteringRelay:
        loop = asyncio.get_running_loop()
        for name in ("outer", "inner"):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((self.host, port if name == "outer" else 0))
            sock.setblocking(False)
            setattr(self, name, sock)
            loop.add_reader(sock, self._readable, sock)
        return self

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for sock in (self.outer, self.inner):
            if sock is not None:
                loop.remove_reader(sock)
                sock.close()
        self.outer = self.inner = None
        for future in self.pending.values():
            future.cancel()

    async def register(self, site: Addr, domain: str, *, expires: int = 3600) -> int | None:
        """REGISTER the party's user at ``site`` from its address; the final status, or
        None when the site did not answer."""
        assert self.outer is not None
        host, port = self.address
        call_id = self.call_ids.setdefault(site, self.ids.call_id(host))
        self.cseq += 1
        request = build_register(
            self.user, domain, via=via_value("udp", host, port, self.ids.branch()),
            tag=self.ids.tag(), call_id=call_id, contact=f"<sip:{self.user}@{host}:{port}>",
            expires=expires, cseq=self.cseq,
        )  # fmt: skip
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = future
        try:
            for wait in RETRANSMIT:
                with contextlib.suppress(OSError):
                    self.outer.sendto(bytes(request), site)
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future), wait)
            return None
        finally:
            self.pending.pop(call_id, None)

    def _readable(self, sock: socket.socket) -> None:
        try:
            data, source = sock.recvfrom(65536)
        except OSError:
            return
        try:
            message = parse_message(data)
        except ParseError as exc:
            log.debug("relay %s: not SIP from %s: %s", self.host, source, exc)
            return
        call_id = message.call_id
        if sock is self.outer:
            future = self.pending.get(call_id)
            if future is not None:  # an answer to our REGISTER
                if isinstance(message, Response) and message.status >= 200 and not future.done():
                    future.set_result(message.status)
                return
            self.peers.setdefault(call_id, source)
            assert self.inner is not None
            with contextlib.suppress(OSError):
                self.inner.sendto(data, self.sipp)
        else:
            dest = self.peers.get(call_id)
            if dest is not None and self.outer is not None:
                with contextlib.suppress(OSError):
                    self.outer.sendto(data, dest)
