"""The compose backend on a real Docker engine: sites in containers, hurt through the
docker SDK and the fault proxy, with the endpoint and SIPp as peers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    PhoneEvent,
    SessionStatus,
    SessionStatusChanged,
)
from lab.errors import LabError
from lab.labs.interface import LabConfig
from lab.parties.sipp import caller_process, sipp_binary
from lab.real.lab import Lab
from lab.sites.containers import docker_client
from lab.sites.probe import options_ping

pytestmark = [pytest.mark.interop, pytest.mark.compose]


async def ping(lab: Lab, name: str, transport: str = "udp", timeout: float = 0.6) -> int | None:
    return await options_ping(*lab.target(name), transport=transport, timeout=timeout)


def project_containers(project: str) -> list[str]:
    label = {"label": f"com.docker.compose.project={project}"}
    return [c.name for c in docker_client().containers.list(all=True, filters=label)]


def test_every_site_operation_on_containers() -> None:
    async def main() -> None:
        async with Lab(LabConfig(backend="compose")) as lab:
            assert lab.project is not None
            project = lab.project.name
            assert len(project_containers(project)) == 2
            for transport in ("udp", "tcp"):
                assert (
                    await ping(lab, "a", transport) == 200
                    and await ping(lab, "b", transport) == 200
                )
            async with lab.fault("kill", "a"):
                assert await ping(lab, "a") is None and await ping(lab, "b") == 200
            assert await ping(lab, "a") == 200
            async with lab.fault("hang", "b"):  # docker pause
                assert await ping(lab, "b") is None
            assert await ping(lab, "b") == 200
            async with lab.fault("stop", "a"):
                assert await ping(lab, "a") is None
            assert await ping(lab, "a") == 200
            async with lab.fault("partition", "b", via="network"):  # network disconnect
                assert await ping(lab, "b") is None
            assert await ping(lab, "b") == 200
            await lab.apply("restart", "a")
            assert await ping(lab, "a") == 200
            async with lab.fault("latency", "a", latency=80, stream="downstream"):
                loop = asyncio.get_running_loop()
                start = loop.time()
                assert await ping(lab, "a", timeout=2) == 200
                assert loop.time() - start >= 0.08
        assert project_containers(project) == []

    asyncio.run(main())


def test_endpoint_and_sipp_against_container_sites(tmp_path: Path) -> None:
    if sipp_binary() is None:
        pytest.skip("sipp is not installed")

    def conn_is(c: int, status: ConnectionStatus):  # type: ignore[no-untyped-def]
        return lambda e: (
            isinstance(e, ConnectionStatusChanged) and e.connection == c and e.status is status
        )

    async def main() -> None:
        async with Lab(LabConfig(backend="compose")) as lab:
            cfg = EndpointConfig(
                connections=[
                    ConnectionConfig(
                        id=i,
                        user="5001",
                        server=lab.target(n)[0],
                        port=lab.target(n)[1],
                        transaction_timeout=1.0,
                        retry_interval=0.5,
                        keepalive="options",
                        keepalive_interval=0.5,
                        keepalive_timeout=0.5,
                    )
                    for i, n in enumerate(("a", "b"))
                ]
            )
            async with AsyncPhone(cfg) as phone:
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 5)
                await phone.wait_for(conn_is(1, ConnectionStatus.AVAILABLE), 5)
                mark = len(phone.history)
                async with lab.fault("kill", "a"):
                    await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 5, since=mark)
                    async with caller_process(
                        tmp_path, lab.target("b"), "5001", hold_ms=100, auto_answer=True, timeout=10
                    ) as uac:

                        def established(e: PhoneEvent) -> bool:
                            return (
                                isinstance(e, SessionStatusChanged)
                                and e.status is SessionStatus.ESTABLISHED
                            )

                        event = await phone.wait_for(established, 5, since=mark)
                        assert isinstance(event, SessionStatusChanged) and event.connection == 1
                        assert (await uac.wait()).ok
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 5, since=mark)

    asyncio.run(main())


def test_compose_without_an_engine_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(LabError) as info:
        asyncio.run(Lab(LabConfig(backend="compose")).start())
    assert "container engine" in str(info.value) and "engine.sh up" in str(info.value)


def test_container_sites_speak_tls_with_the_lab_certificates() -> None:
    """Site a's container presents a valid certificate, b's one for another name: a TLS
    connection registers on a, and one on b is refused for it; a killed and restarted a
    takes the connection again."""

    def conn_is(c: int, status: ConnectionStatus):  # type: ignore[no-untyped-def]
        return lambda e: (
            isinstance(e, ConnectionStatusChanged) and e.connection == c and e.status is status
        )

    async def main() -> str:
        async with Lab(LabConfig(backend="compose", certificates={"b": "wrong_name"})) as lab:
            cfg = EndpointConfig(connections=[
                ConnectionConfig(
                    id=i, user="5001", server=lab.target(n, "tls")[0],
                    port=lab.target(n, "tls")[1], protocol="tls", tls_ca=lab.tls_ca(),
                    domain=lab.site(n).spec.domain, transaction_timeout=1.0, retry_interval=0.5,
                ) for i, n in enumerate(("a", "b"))
            ])  # fmt: skip
            async with AsyncPhone(cfg) as phone:
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 10)
                refused = await phone.wait_for(conn_is(1, ConnectionStatus.UNAVAILABLE), 10)
                mark = len(phone.history)
                async with lab.fault("kill", "a"):
                    await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 10, since=mark)
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 10, since=mark)
                assert isinstance(refused, ConnectionStatusChanged)
                return refused.reason

    assert "certificate is not for b.geolab.test" in asyncio.run(main())


def test_container_sites_speak_ws_and_wss() -> None:
    """SIP over WebSocket on the container sites (Kamailio's websocket module in the image):
    a ws connection on site a and a wss one on site b register through their proxies; a
    killed a is seen at once (its connection closes) and taken again once it is back."""

    def conn_is(c: int, status: ConnectionStatus):  # type: ignore[no-untyped-def]
        return lambda e: (
            isinstance(e, ConnectionStatusChanged) and e.connection == c and e.status is status
        )

    async def main() -> None:
        async with Lab(LabConfig(backend="compose")) as lab:
            cfg = EndpointConfig(connections=[
                ConnectionConfig(
                    id=i, user="5001", server=lab.target(n, p)[0], port=lab.target(n, p)[1],
                    protocol=p, tls_ca=lab.tls_ca() if p == "wss" else None,
                    domain=lab.site(n).spec.domain, transaction_timeout=1.0, retry_interval=0.5,
                ) for i, (n, p) in enumerate((("a", "ws"), ("b", "wss")))
            ])  # fmt: skip
            async with AsyncPhone(cfg) as phone:
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 10)
                await phone.wait_for(conn_is(1, ConnectionStatus.AVAILABLE), 10)
                mark = len(phone.history)
                async with lab.fault("kill", "a"):
                    await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 5, since=mark)
                await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 10, since=mark)
                assert not any(conn_is(1, ConnectionStatus.UNAVAILABLE)(e) for e in phone.history)

    asyncio.run(main())
