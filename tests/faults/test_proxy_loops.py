"""The fault proxy on either event loop (uvloop, the default, and asyncio's): one client
socket keeps its session across the site's death and return, also after a burst of
requests into the dead site (its ICMP errors never reach the session's socket), and an
idle proxy passes TCP in order."""

from __future__ import annotations

import asyncio

import pytest

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_request
from endpoint.sip.timers import TimerConfig
from endpoint.sip.uri import SipURI
from lab.labs.interface import LabConfig
from lab.real.lab import Lab

LOOPS = ["asyncio", "uvloop"]  # uvloop, the default, is a dependency


async def ping(stack: SipStack, addr: tuple[str, int], transport: str) -> int:
    request = build_request(
        "OPTIONS", SipURI(host=addr[0], port=addr[1]), via=stack.via(transport),
        from_=f"<sip:probe@x>;tag={stack.ids.tag()}", to="<sip:x>",
        call_id=stack.ids.call_id("x"), cseq=1,
    )  # fmt: skip
    return (await stack.transact(request, addr, transport)).response.status


@pytest.mark.parametrize("loop", LOOPS)
def test_a_client_keeps_its_session_across_the_site_s_death(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOLAB_PROXY_LOOP", loop)

    async def main() -> list[int]:
        timers = {"udp": TimerConfig(t1=0.05, t2=0.1, t4=0.05)}
        async with (
            Lab(LabConfig(backend="embedded", sites=["a"])) as lab,
            SipStack("127.0.0.1", 0, transports=("udp",), timers=timers) as stack,
        ):
            addr = lab.target("a")
            seen = [await ping(stack, addr, "udp")]
            async with lab.fault("kill", "a"):
                seen.append(await ping(stack, addr, "udp"))  # refused: ICMP to the proxy
            seen += [await ping(stack, addr, "udp") for _ in range(3)]
            return seen

    assert asyncio.run(main()) == [200, 408, 200, 200, 200]


@pytest.mark.parametrize("loop", LOOPS)
def test_a_burst_to_a_dead_site_does_not_end_the_session(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty requests (and their retransmissions) into a killed site: the proxy's session
    socket is still watched afterwards, and every request after the restart is answered."""
    monkeypatch.setenv("GEOLAB_PROXY_LOOP", loop)

    async def main() -> tuple[list[int], list[int]]:
        timers = {"udp": TimerConfig(t1=0.02, t2=0.04, t4=0.02)}
        async with (
            Lab(LabConfig(backend="embedded", sites=["a"])) as lab,
            SipStack("127.0.0.1", 0, transports=("udp",), timers=timers) as stack,
        ):
            addr = lab.target("a")
            assert await ping(stack, addr, "udp") == 200
            async with lab.fault("kill", "a"):
                dead = await asyncio.gather(*(ping(stack, addr, "udp") for _ in range(400)))
            back = await asyncio.gather(*(ping(stack, addr, "udp") for _ in range(400)))
            return list(dead), list(back)

    dead, back = asyncio.run(main())
    assert dead == [408] * 400
    assert back == [200] * 400


@pytest.mark.parametrize("loop", LOOPS)
def test_an_idle_tcp_proxy_passes_a_burst_in_order(
    loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEOLAB_PROXY_LOOP", loop)

    async def main() -> list[int]:
        async with (
            Lab(LabConfig(backend="embedded", sites=["a"])) as lab,
            SipStack("127.0.0.1", 0, transports=("tcp",)) as stack,
        ):
            addr = lab.target("a")
            return list(await asyncio.gather(*(ping(stack, addr, "tcp") for _ in range(200))))

    assert asyncio.run(main()) == [200] * 200
