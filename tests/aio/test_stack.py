"""Two SipStacks talking over real loopback sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest

from endpoint.aio.stack import SipStack
from endpoint.sip import make_response
from endpoint.sip.builder import build_request
from endpoint.sip.events import RequestReceived
from endpoint.sip.timers import TimerConfig
from endpoint.sip.uri import SipURI

FAST = {t: TimerConfig(t1=0.02, t2=0.08, t4=0.1) for t in ("udp", "tcp")}


def options(stack: SipStack, target: SipStack, transport: str):  # type: ignore[no-untyped-def]
    return build_request(
        "OPTIONS",
        SipURI(host=target.host, port=target.port),
        via=stack.via(transport),
        from_=f"<sip:a@{stack.host}>;tag={stack.ids.tag()}",
        to=f"<sip:b@{target.host}>",
        call_id=stack.ids.call_id(stack.host),
        cseq=1,
    )


def answer_everything(stack: SipStack, status: int = 200) -> list[RequestReceived]:
    seen: list[RequestReceived] = []

    def on_request(event: RequestReceived) -> None:
        seen.append(event)
        if event.key is not None:
            stack.respond(event.key, make_response(event.request, status, to_tag="srv"))

    stack.on_request = on_request
    return seen


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_request_and_response_over_loopback(transport: str) -> None:
    async def main() -> None:
        async with SipStack("127.0.0.1") as a, SipStack("127.0.0.1") as b:
            seen = answer_everything(b, 202)
            response = await a.request(options(a, b, transport), b.local_address(), transport)
            assert response.status == 202
            assert response.to.tag == "srv"
            assert len(seen) == 1 and seen[0].transport == transport

    asyncio.run(main())


def test_malformed_datagram_is_dropped_and_the_stack_keeps_working() -> None:
    async def main() -> None:
        async with SipStack("127.0.0.1") as a, SipStack("127.0.0.1") as b:
            answer_everything(b)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(b"INVITE <sip:x> SIP/2.0\r\n\r\n", b.local_address())
                raw.sendto(b"\xff\x00garbage", b.local_address())
            response = await a.request(options(a, b, "udp"), b.local_address(), "udp")
            assert response.status == 200
            assert b.rejected == 2

    asyncio.run(main())


def test_malformed_tcp_stream_closes_that_connection_only() -> None:
    async def main() -> None:
        async with SipStack("127.0.0.1") as a, SipStack("127.0.0.1") as b:
            answer_everything(b)
            reader, writer = await asyncio.open_connection(*b.local_address())
            writer.write(
                b"OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n"
            )  # no Content-Length
            assert await reader.read() == b""  # b closed the connection
            writer.close()
            response = await a.request(options(a, b, "tcp"), b.local_address(), "tcp")
            assert response.status == 200

    asyncio.run(main())


def test_silent_peer_gives_local_408_at_64_t1() -> None:
    async def main() -> None:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            async with SipStack("127.0.0.1", timers=FAST) as a:
                loop = asyncio.get_running_loop()
                start = loop.time()
                dest = silent.getsockname()
                event = await a.transact(options(a, a, "udp"), dest, "udp")
                elapsed = loop.time() - start
                assert event.local and event.response.status == 408
                assert 64 * 0.02 * 0.95 <= elapsed < 64 * 0.02 + 1.0
                silent.setblocking(False)
                copies = 0
                while True:
                    try:
                        silent.recv(65535)
                    except BlockingIOError:
                        break
                    copies += 1
                assert copies >= 6  # the request and its retransmissions reached the wire
        finally:
            silent.close()

    asyncio.run(main())


def test_refused_tcp_connection_is_a_local_503() -> None:
    async def main() -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        dest = probe.getsockname()
        probe.close()  # nothing listens there now
        async with SipStack("127.0.0.1", timers=FAST) as a:
            event = await a.transact(options(a, a, "tcp"), dest, "tcp")
            assert event.local and event.response.status == 503

    asyncio.run(main())
