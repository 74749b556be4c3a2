"""The fault proxy forgets transport state on request (the faults vip_takeover, half_open
and nat_rebind): each open connection's site side ends and the client learns at its next
segment (a reset, or nothing at all), and each UDP flow leaves for the site from a new
source port, so what the site sends to the old one is lost."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lab.faults.proxy import Proxy


class Echo(asyncio.Protocol):
    """The site: echoes what it gets; notes when its side of a connection ends."""

    def __init__(self, ended: asyncio.Event) -> None:
        self.ended = ended
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended.set()


async def _tcp_proxy() -> tuple[Proxy, asyncio.Server, asyncio.Event]:
    loop = asyncio.get_running_loop()
    ended = asyncio.Event()
    server = await loop.create_server(lambda: Echo(ended), "127.0.0.1", 0)
    proxy = Proxy("a-tcp", ("127.0.0.1", 0), server.sockets[0].getsockname()[:2])
    await proxy.set_enabled(True)
    return proxy, server, ended


async def _roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(b"ping")
    await writer.drain()
    return await asyncio.wait_for(reader.read(100), 2)


@pytest.mark.parametrize("mode", ["reset", "nothing"])
def test_a_forgotten_connection_answers_its_next_segment_with_a_reset_or_nothing(
    mode: str,
) -> None:
    async def go() -> None:
        proxy, server, ended = await _tcp_proxy()
        try:
            reader, writer = await asyncio.open_connection(*proxy.listen)
            assert await _roundtrip(reader, writer) == b"ping"
            proxy.forget(mode)
            await asyncio.wait_for(ended.wait(), 2)  # the site's side is gone at once
            assert not reader.at_eof()  # the client is not told until it sends
            writer.write(b"again")
            await writer.drain()
            if mode == "reset":
                with pytest.raises(ConnectionResetError):
                    await asyncio.wait_for(reader.read(100), 2)
            else:
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(reader.read(100), 0.5)
                assert not reader.at_eof()  # half-open: no answer, no close
            writer.close()
            fresh_reader, fresh_writer = await asyncio.open_connection(*proxy.listen)
            assert await _roundtrip(fresh_reader, fresh_writer) == b"ping"  # a new one works
            fresh_writer.close()
        finally:
            await proxy.set_enabled(False)
            server.close()

    asyncio.run(go())


def test_a_rebound_udp_flow_leaves_from_a_new_port_and_the_old_one_is_lost() -> None:
    async def go() -> None:
        site = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        site.bind(("127.0.0.1", 0))
        site.settimeout(2)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("127.0.0.1", 0))
        client.settimeout(0.5)
        proxy = Proxy("a-udp", ("127.0.0.1", 0), site.getsockname(), protocol="udp")
        await proxy.set_enabled(True)
        loop = asyncio.get_running_loop()

        async def from_client(data: bytes) -> tuple[str, int]:
            client.sendto(data, proxy.listen)
            got, source = await loop.run_in_executor(None, site.recvfrom, 100)
            assert got == data
            return source

        async def to_client(data: bytes, port: tuple[str, int]) -> bytes | None:
            site.sendto(data, port)
            try:
                return (await loop.run_in_executor(None, client.recvfrom, 100))[0]
            except TimeoutError:
                return None

        try:
            first = await from_client(b"register")
            assert await to_client(b"ok", first) == b"ok"
            proxy.forget("rebind")
            assert await to_client(b"invite", first) is None  # the old mapping is gone
            second = await from_client(b"register again")
            assert second != first and second[0] == first[0]  # a new source port
            assert await to_client(b"invite", second) == b"invite"
            with pytest.raises(ValueError, match="rebind"):
                proxy.forget("reset")  # a UDP proxy rebinds; it has no connections
        finally:
            await proxy.set_enabled(False)
            site.close()
            client.close()

    asyncio.run(go())
