"""The sockets under the phone: UDP and TCP bound on one port when the system picks it; a
connection reset as it is made is a failed connect."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from endpoint.aio.sockets import Sockets
from lab.system.net import allocate_address, free_port


def test_a_port_taken_for_tcp_is_traded_for_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UDP port the system hands out may be some TCP socket's already: start() must
    not fail, it must find a port free for both."""
    host = allocate_address()
    taken = free_port(host)
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind((host, taken))
    blocker.listen()

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        real = loop.create_datagram_endpoint
        handed: list[int] = []

        async def first_gets_the_taken_port(factory: Any, **kw: Any) -> Any:
            if not handed:  # as if the system had picked the taken number
                kw["local_addr"] = (host, taken)
            result = await real(factory, **kw)
            handed.append(result[0].get_extra_info("sockname")[1])
            return result

        monkeypatch.setattr(loop, "create_datagram_endpoint", first_gets_the_taken_port)
        sockets = Sockets(
            host, 0, ("udp", "tcp"), on_message=lambda *a: None, on_failure=lambda *a: None
        )
        await sockets.start()
        try:
            assert handed[0] == taken and len(handed) >= 2
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.connect((host, sockets.port))  # TCP really listens on the new port
            return sockets.port, handed[-1]
        finally:
            await sockets.close()

    try:
        port, udp_port = asyncio.run(main())
    finally:
        blocker.close()
    assert port == udp_port != taken


class _ResetAtOnce:
    """A transport whose socket was reset before its protocol heard of it: the kernel
    knows no peer any more (a proxy closing its port as the connection came in)."""

    def __init__(self) -> None:
        self.aborted = False

    def get_extra_info(self, name: str) -> object:
        return None

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.aborted


@pytest.mark.parametrize("kind", ["tcp", "ws"])
def test_a_connection_reset_as_it_is_made_is_a_failed_connect_not_a_crash(kind: str) -> None:
    """Aborted at once, never filed as open: the connect fails (the phone moves on at once)
    instead of an exception in a callback and a write into nothing."""
    from endpoint.aio.transport import TcpConnection, WsConnection

    async def go() -> None:
        made: list[object] = []
        conn = (TcpConnection(lambda *a: None, lambda *a: None, lambda c: None, "tcp")
                if kind == "tcp" else
                WsConnection(lambda *a: None, lambda *a: None, lambda c: None, "ws",
                             client=True, host="127.0.0.1:5062"))  # fmt: skip
        conn.on_made = made.append
        transport = _ResetAtOnce()
        conn.connection_made(transport)  # type: ignore[arg-type]
        assert transport.aborted and not conn.open and made == []

    asyncio.run(go())
