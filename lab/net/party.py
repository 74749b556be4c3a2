"""A party network: what remote parties written in Python run on (``attach`` / ``send``
/ ``detach``), the simulated network or real UDP sockets (:class:`UdpNet`)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol

from endpoint.sip.errors import ParseError
from endpoint.sip.events import Address
from lab.net.wire import Deliver


class Net(Protocol):
    def attach(self, address: Address, deliver: Deliver) -> None: ...
    def detach(self, address: Address) -> None: ...
    def send(self, src: Address, dst: Address, data: bytes, transport: str) -> bool: ...


class UdpNet:
    """``attach`` / ``send`` / ``detach`` on real UDP sockets, one per party address."""

    def __init__(self) -> None:
        self.socks: dict[Address, socket.socket] = {}

    def attach(self, address: Address, deliver: Deliver) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(address)
        sock.setblocking(False)
        self.socks[address] = sock
        asyncio.get_running_loop().add_reader(sock, self._read, sock, deliver)

    def _read(self, sock: socket.socket, deliver: Deliver) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            data, source = sock.recvfrom(65535)
            with contextlib.suppress(ParseError):
                deliver(data, (source[0], source[1]), "udp")

    def detach(self, address: Address) -> None:
        sock = self.socks.pop(address, None)
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock)
            sock.close()

    def close(self) -> None:
        """Detach every address still attached (a party that did not stop)."""
        for address in list(self.socks):
            self.detach(address)

    def send(self, src: Address, dst: Address, data: bytes, transport: str) -> bool:
        sock = self.socks.get(src)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.sendto(data, dst)
        return True
