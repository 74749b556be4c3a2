"""The lab on both local backends: sites behind the fault proxy, each fault observed on
the wire, and nothing left behind."""

from __future__ import annotations

import asyncio
import statistics
from pathlib import Path

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    SessionStatus,
    SessionStatusChanged,
)
from lab.errors import LabError
from lab.faults.kernel import geolab_tables, nft_available
from lab.labs.interface import LabConfig
from lab.parties.sipp import caller_process, sipp_binary
from lab.real.lab import Lab
from lab.sites.probe import options_ping
from lab.system.procs import live_members

pytestmark = pytest.mark.interop


async def ping(addr: tuple[str, int], transport: str = "udp", timeout: float = 0.6) -> int | None:
    return await options_ping(*addr, transport=transport, timeout=timeout)


async def rtt(addr: tuple[str, int], transport: str) -> float:
    loop = asyncio.get_running_loop()
    start = loop.time()
    assert await ping(addr, transport, timeout=2) == 200
    return loop.time() - start


def tracked_pids(lab: Lab) -> list[int]:
    return [p.pid for p in lab.state.processes]


def test_lab_up_process_faults_and_clean_exit(backend: str, state_dir: Path) -> None:
    async def main() -> None:
        lab = Lab(LabConfig(backend=backend, seed=5))
        async with lab:
            pids = tracked_pids(lab)
            assert len(pids) == 3  # two sites and the fault proxy
            assert list(state_dir.glob("*.json"))
            for transport in ("udp", "tcp"):
                for name in ("a", "b"):
                    assert await ping(lab.target(name), transport) == 200
            async with lab.fault("kill", "a") as record:
                assert await ping(lab.target("a")) is None
                assert await ping(lab.target("b")) == 200
            assert record.healed_at is not None and record.applied_at >= record.requested_at
            assert await ping(lab.target("a")) == 200
            async with lab.fault("hang", "b"):
                assert await ping(lab.target("b")) is None
            assert await ping(lab.target("b")) == 200
            await lab.apply("restart", "a")
            assert await ping(lab.target("a")) == 200
            kinds = [e.label for e in lab.events]
            assert kinds.count("fault_applied") == 3 and kinds.count("fault_healed") == 2
            pids = tracked_pids(lab)
        assert not list(state_dir.glob("*.json"))
        assert all(not live_members(pid) for pid in pids)

    asyncio.run(main())


def test_a_dead_site_refuses_tcp_through_the_proxy_as_it_would_itself(backend: str) -> None:
    """Killed or stopped, a site's TCP port on the fault proxy refuses connections (as the
    dead site's host would); its UDP port still takes what is sent, and records it. Both
    are as before once the site is back, and a proxy fault that closed them too keeps
    them closed until it is healed as well."""

    async def main() -> None:
        lab = Lab(LabConfig(backend=backend, seed=5))
        seen: list[object] = []
        lab.wire_observers.append(seen.append)
        async with lab:
            ip, port = lab.target("a")
            for kind in ("kill", "stop"):
                async with lab.fault(kind, "a"):
                    with pytest.raises(ConnectionRefusedError):
                        await asyncio.open_connection(ip, port)
                    before = len(seen)
                    assert await ping((ip, port)) is None  # UDP: taken, unanswered
                    assert len(seen) > before  # and recorded
                assert await ping((ip, port), "tcp") == 200
            down = await lab.apply("down", "a")
            async with lab.fault("kill", "a"):
                pass
            with pytest.raises(ConnectionRefusedError):  # still down: the proxy fault
                await asyncio.open_connection(ip, port)
            await lab.heal(down)
            assert await ping((ip, port), "tcp") == 200

    asyncio.run(main())


def test_proxy_faults_through_the_lab(backend: str) -> None:
    async def main() -> None:
        async with Lab(LabConfig(backend=backend, sites=["a"], seed=7)) as lab:
            target = lab.target("a")
            for transport in ("udp", "tcp"):
                # the quickest round trip as the base: a slow one (a busy machine) would
                # hide part of the 60 ms the toxic adds
                base = min([await rtt(target, transport) for _ in range(3)])
                async with lab.fault("latency", "a", latency=60, stream="downstream"):
                    slow = statistics.median([await rtt(target, transport) for _ in range(3)])
                assert 0.055 <= slow - base <= 0.12, (transport, base, slow)
            async with lab.fault("down", "a"):
                assert await ping(target) is None
                assert await ping(lab.site("a").address) == 200  # the site itself is fine
            assert await ping(target) == 200
            async with lab.fault("sip_drop", "a", method="OPTIONS", stream="upstream"):
                assert await ping(target) is None
            async with lab.fault("sip_respond", "a", method="OPTIONS", code=503, stream="upstream"):
                assert await ping(target) == 503
            assert await ping(target) == 200

    asyncio.run(main())


def test_kernel_partition_and_loss(backend: str) -> None:
    reason = asyncio.run(nft_available())
    if reason is not None:
        pytest.skip(f"kernel faults unavailable: {reason}")

    async def main() -> None:
        async with Lab(LabConfig(backend=backend, sites=["a"], proxy=False)) as lab:
            site = lab.site("a").address
            async with lab.fault("partition", "a", via="kernel"):
                assert lab.kernel.nft is not None and lab.kernel.nft.name in await geolab_tables()
                assert await ping(site) is None
                assert await ping(site, "tcp") is None
            assert await ping(site) == 200
            async with lab.fault("loss", "a", via="kernel", percent=100):
                assert await ping(site) is None
            table = lab.kernel.nft.name if lab.kernel.nft else ""
        assert table not in await geolab_tables()

    asyncio.run(main())


def test_partition_stops_inbound_calls_through_that_site(backend: str, tmp_path: Path) -> None:
    if sipp_binary() is None:
        pytest.skip("sipp is not installed")

    async def main() -> None:
        async with Lab(LabConfig(backend=backend)) as lab:
            cfg = EndpointConfig(
                connections=[
                    ConnectionConfig(
                        id=i,
                        user="5001",
                        server=lab.target(n)[0],
                        port=lab.target(n)[1],
                        transaction_timeout=1.0,
                        retry_interval=60,
                    )
                    for i, n in enumerate(("a", "b"))
                ]
            )
            async with AsyncPhone(cfg) as phone:
                for conn in (0, 1):
                    await phone.wait_for(
                        lambda e, c=conn: (
                            isinstance(e, ConnectionStatusChanged)
                            and e.connection == c
                            and e.status is ConnectionStatus.AVAILABLE
                        ),
                        5,
                    )
                # without a partition, a call through site b rings on connection 1
                async with caller_process(
                    tmp_path,
                    lab.site("b").address,
                    "5001",
                    hold_ms=100,
                    auto_answer=True,
                    timeout=10,
                    name="call1",
                ) as uac:
                    ringing = await phone.wait_for(
                        lambda e: (
                            isinstance(e, SessionStatusChanged)
                            and e.status is SessionStatus.RINGING
                        ),
                        5,
                    )
                    assert isinstance(ringing, SessionStatusChanged) and ringing.connection == 1
                    assert (await uac.wait()).ok
                mark = len(phone.history)
                async with (
                    lab.fault("partition", "b"),
                    caller_process(
                        tmp_path,
                        lab.site("b").address,
                        "5001",
                        hold_ms=100,
                        auto_answer=True,
                        timeout=4,
                        name="call2",
                    ) as uac,
                ):
                    with pytest.raises(TimeoutError):
                        await phone.wait_for(
                            lambda e: isinstance(e, SessionStatusChanged), 3, since=mark
                        )
                    assert not (await uac.wait()).ok

    asyncio.run(main())


@pytest.mark.parametrize("backend", ["embedded", "kamailio"])
def test_sites_offer_tls_and_ws_only_to_a_drill_that_uses_them(backend: str) -> None:
    """A UDP/TCP drill's lab makes no certificates and opens no TLS or WebSocket port; one
    that uses wss gets both; geolab up (no transports named) gets everything."""
    if backend == "kamailio" and sipp_binary() is None:
        pytest.skip("Kamailio's lab tests run where SIPp is (apt-get install -y sip-tester)")

    async def offered(transports: frozenset[str] | None) -> tuple[bool, dict[str, bool]]:
        async with Lab(LabConfig(backend=backend, transports=transports)) as lab:
            opened = {}
            for transport in ("udp", "tcp", "tls", "ws", "wss"):
                try:
                    address = lab.target("a", transport)
                except LabError as exc:
                    assert "the drill uses no" in str(exc), exc
                    opened[transport] = False
                    continue
                opened[transport] = True
                if transport in ("udp", "tcp"):
                    assert await ping(address, transport, timeout=2) == 200
            certs = lab.certs is not None and (lab.workdir / "tls").exists()
            assert (lab.tls_ca() is not None) == certs
            return certs, opened

    plain = asyncio.run(offered(frozenset({"udp", "tcp"})))
    assert plain == (False, {"udp": True, "tcp": True, "tls": False, "ws": False, "wss": False})
    secure = asyncio.run(offered(frozenset({"udp", "wss"})))
    assert secure == (True, {"udp": True, "tcp": True, "tls": True, "ws": True, "wss": True})
    assert asyncio.run(offered(None))[1] == secure[1]
