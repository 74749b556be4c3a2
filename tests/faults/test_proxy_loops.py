"""The fault proxy on either event loop (asyncio's, and uvloop where installed): one
client socket keeps its session across the site's death and return (the ICMP error the
dead site brings does not end the session's watch), and an idle proxy passes TCP in
order."""

from __future__ import annotations

import asyncio

import pytest

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_request
from endpoint.sip.timers import TimerConfig
from endpoint.sip.uri import SipURI
from lab.labs.interface import LabConfig
from lab.labs.real import Lab

LOOPS = ["asyncio", pytest.param("uvloop", marks=pytest.mark.skipif(
    __import__("importlib.util").util.find_spec("uvloop") is None, reason="uvloop not installed"))]  # fmt: skip


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
