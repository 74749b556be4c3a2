"""The fault proxy on real sockets, driven through its Toxiproxy-compatible API."""

from __future__ import annotations

import asyncio
import socket
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from endpoint.aio.stack import SipStack
from endpoint.sip import make_response
from endpoint.sip.builder import build_request
from endpoint.sip.events import RequestReceived
from endpoint.sip.timers import TimerConfig
from endpoint.sip.uri import SipURI
from lab.errors import ToxiproxyError
from lab.faults.api import FaultServer
from lab.faults.client import ToxiproxyClient
from lab.faults.watch import Watch, WireObservation
from lab.system.net import allocate_address

FAST = {t: TimerConfig(t1=0.02, t2=0.08, t4=0.1) for t in ("udp", "tcp", "ws")}
ALL = ("udp", "tcp", "ws")


@asynccontextmanager
async def setup(transport: str) -> AsyncIterator[tuple[ToxiproxyClient, SipStack, SipStack, str]]:
    """An API server, a SIP 'site' (answers 200 to all; ws on a port of its own) and a
    client, proxied."""
    server = FaultServer(seed=3)
    await server.start("127.0.0.1", 0)
    proxy_ip = allocate_address()
    async with (
        SipStack("127.0.0.1", timers=FAST, transports=ALL, ws_port=0) as site,
        SipStack("127.0.0.1", timers=FAST, transports=ALL) as ua,
    ):

        def answer(event: RequestReceived) -> None:
            if event.key is not None:
                site.respond(event.key, make_response(event.request, 200, to_tag="s"))

        site.on_request = answer
        api = ToxiproxyClient(*server.address)
        port = site.sockets.ws_port if transport == "ws" else site.port
        await api.create_proxy("site", f"{proxy_ip}:5060", f"127.0.0.1:{port}", protocol=transport)
        try:
            yield api, ua, site, proxy_ip
        finally:
            await server.close()


def options(ua: SipStack, method: str = "OPTIONS", transport: str = "udp"):  # type: ignore[no-untyped-def]
    return build_request(
        method,
        SipURI(host="site"),
        via=ua.via(transport),
        from_=f"<sip:u@x>;tag={ua.ids.tag()}",
        to="<sip:site>",
        call_id=ua.ids.call_id("x"),
        cseq=1,
    )


async def rtt(
    ua: SipStack, dest: tuple[str, int], transport: str, method: str = "OPTIONS"
) -> tuple[float, int, bool]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    event = await ua.transact(options(ua, method, transport), dest, transport)
    return loop.time() - start, event.response.status, event.local


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coro())  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", ["udp", "tcp", "ws"])
def test_passes_traffic_and_the_site_sees_the_proxy(transport: str) -> None:
    async def main() -> None:
        async with setup(transport) as (_api, ua, site, ip):
            seen: list[RequestReceived] = []
            prev = site.on_request
            site.on_request = lambda e: (seen.append(e), prev(e))  # type: ignore[func-returns-value,misc]
            _, status, local = await rtt(ua, (ip, 5060), transport)
            assert (status, local) == (200, False)
            assert seen[0].source[0] == ip  # the site sees the proxy's address as the client

    run(main)


@pytest.mark.parametrize("transport", ["udp", "tcp", "ws"])
def test_latency_is_added_within_tolerance(transport: str) -> None:
    async def main() -> None:
        async with setup(transport) as (api, ua, _site, ip):
            base = statistics.median([(await rtt(ua, (ip, 5060), transport))[0] for _ in range(5)])
            await api.add_toxic("site", "latency", stream="downstream", latency=80, jitter=0)
            slow = statistics.median([(await rtt(ua, (ip, 5060), transport))[0] for _ in range(5)])
            assert 0.075 <= slow - base <= 0.12

    run(main)


@pytest.mark.parametrize("transport", ["udp", "tcp", "ws"])
def test_down_then_up(transport: str) -> None:
    async def main() -> None:
        async with setup(transport) as (api, ua, _site, ip):
            await api.set_enabled("site", False)
            _, status, local = await rtt(ua, (ip, 5060), transport)
            assert local and status in (408, 503)  # UDP: timeout; TCP: connection refused
            await api.set_enabled("site", True)
            assert (await rtt(ua, (ip, 5060), transport))[1:] == (200, False)

    run(main)


def test_timeout_toxic_blackholes_udp() -> None:
    async def main() -> None:
        async with setup("udp") as (api, ua, _site, ip):
            await api.add_toxic("site", "timeout", name="hole", stream="upstream", timeout=0)
            assert (await rtt(ua, (ip, 5060), "udp"))[1:] == (408, True)
            await api.remove_toxic("site", "hole")
            assert (await rtt(ua, (ip, 5060), "udp"))[1:] == (200, False)

    run(main)


def test_the_record_of_a_ws_proxy_is_the_sip_inside_the_frames() -> None:
    """What crosses a ws proxy is recorded as the SIP messages the frames carry (the
    client's unmasked), both ways; the upgrade and control frames are not."""

    async def main() -> None:
        async with setup("ws") as (api, ua, site, ip):
            seen: list[WireObservation] = []
            watch = await Watch(seen.append).start(api.host, api.port)
            try:
                sent = options(ua, transport="ws")
                got: list[bytes] = []
                prev = site.on_request
                site.on_request = lambda e: (got.append(e.request.serialise()), prev(e))  # type: ignore[func-returns-value,misc]
                event = await ua.transact(sent, (ip, 5060), "ws")
                assert event.response.status == 200
                for _ in range(100):
                    if len(seen) >= 2:
                        break
                    await asyncio.sleep(0.01)
            finally:
                await watch.stop()
            assert [(o.direction, o.protocol) for o in seen] == [("out", "ws"), ("in", "ws")]
            assert seen[0].data.startswith(b"OPTIONS sip:site SIP/2.0\r\n")  # unmasked
            assert sent.call_id.encode() in seen[0].data and len(got) == 1
            assert seen[1].data.startswith(b"SIP/2.0 200 OK\r\n")
            assert all(b"HTTP/1.1" not in o.data for o in seen)

    run(main)


def test_reset_peer_is_seen_by_the_tcp_client() -> None:
    async def main() -> None:
        async with setup("tcp") as (api, ua, _site, ip):
            await api.add_toxic("site", "reset_peer", stream="upstream", timeout=0)
            reader, writer = await asyncio.open_connection(ip, 5060)
            writer.write(bytes(options(ua, transport="tcp")))
            with pytest.raises(ConnectionResetError):
                await asyncio.wait_for(reader.read(), 2)
                raise AssertionError("connection closed without a reset")
            writer.close()

    run(main)


def test_udp_loss_rate_for_a_fixed_seed() -> None:
    async def main() -> None:
        server = FaultServer(seed=11)
        await server.start("127.0.0.1", 0)
        ip = allocate_address()
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sink.bind(("127.0.0.1", 0))
        sink.setblocking(False)
        try:
            api = ToxiproxyClient(*server.address)
            await api.create_proxy(
                "lossy", f"{ip}:5060", f"127.0.0.1:{sink.getsockname()[1]}", protocol="udp"
            )
            await api.add_toxic("lossy", "loss", stream="upstream", percent=25)
            n = 400
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as src:
                for i in range(n):
                    src.sendto(f"packet {i}".encode(), (ip, 5060))
                    if i % 50 == 0:
                        await asyncio.sleep(0.005)  # let the proxy drain its socket buffer
                got = 0
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 2.0
                while loop.time() < deadline:
                    try:
                        sink.recv(100)
                        got += 1
                    except BlockingIOError:
                        await asyncio.sleep(0.01)
            lost = n - got
            assert abs(lost - 0.25 * n) < 4 * (n * 0.25 * 0.75) ** 0.5, lost
        finally:
            sink.close()
            await server.close()

    run(main)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sip_aware_toxics(transport: str) -> None:
    async def main() -> None:
        async with setup(transport) as (api, ua, _site, ip):
            await api.add_toxic(
                "site", "sip_drop", name="no-register", stream="upstream", method="REGISTER"
            )
            assert (await rtt(ua, (ip, 5060), transport, "REGISTER"))[1:] == (408, True)
            assert (await rtt(ua, (ip, 5060), transport, "OPTIONS"))[1:] == (200, False)
            await api.remove_toxic("site", "no-register")
            await api.add_toxic("site", "sip_respond", stream="upstream", method="INVITE", code=503)
            req = options(ua, "INVITE", transport)
            response = await ua.request(req, (ip, 5060), transport)
            assert response.status == 503 and response.headers.get("Server") == "geolab-fault-proxy"
            await api.add_toxic("site", "sip_delay", stream="downstream", status=200, latency=150)
            took, status, _ = await rtt(ua, (ip, 5060), transport, "REGISTER")
            assert status == 200 and 0.14 <= took <= 0.3

    run(main)


def test_api_errors_and_reset() -> None:
    async def main() -> None:
        async with setup("tcp") as (api, _ua, _site, ip):
            assert "geolab" in await api.version()
            with pytest.raises(ToxiproxyError) as info:
                await api.create_proxy("site", f"{ip}:5061", "127.0.0.1:1")
            assert info.value.status == 409
            with pytest.raises(ToxiproxyError) as info:
                await api.add_toxic("ghost", "latency")
            assert info.value.status == 404
            with pytest.raises(ToxiproxyError) as info:
                await api.add_toxic("site", "loss")
            assert info.value.status == 400 and "UDP" in str(info.value)
            await api.add_toxic("site", "latency", latency=10)
            await api.set_enabled("site", False)
            await api.reset()
            proxies = await api.proxies()
            assert proxies["site"].enabled and proxies["site"].toxics == []

    run(main)

