"""The endpoint against two real Kamailio sites, with SIPp as the remote party."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from lab.parties.register import register_party
from lab.parties.sipp import callee_process, caller_process, sipp_binary
from lab.sites.process import ProcessSite

pytestmark = pytest.mark.interop
Factory = Callable[..., ProcessSite]


def config(a: ProcessSite, b: ProcessSite, protocol: str = "udp", **kw: Any) -> EndpointConfig:
    conn = {k: v for k, v in kw.items() if k in ConnectionConfig.model_fields}
    ep = {k: v for k, v in kw.items() if k in EndpointConfig.model_fields}
    return EndpointConfig(
        connections=[
            ConnectionConfig(
                id=i, user="5001", server=s.spec.ip, port=s.spec.port, protocol=protocol, **conn
            )
            for i, s in enumerate((a, b))
        ],
        **ep,
    )


def conn_is(conn: int, status: ConnectionStatus) -> Callable[[PhoneEvent], bool]:
    return lambda e: (
        isinstance(e, ConnectionStatusChanged) and e.connection == conn and e.status is status
    )


def session_is(
    sid: str | None, status: SessionStatus, direction: str | None = None
) -> Callable[[PhoneEvent], bool]:
    def match(e: PhoneEvent) -> bool:
        return (
            isinstance(e, SessionStatusChanged)
            and (sid is None or e.session == sid)
            and e.status is status
            and (direction is None or e.direction == direction)
        )

    return match


async def both_available(phone: AsyncPhone) -> None:
    await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 5)
    await phone.wait_for(conn_is(1, ConnectionStatus.AVAILABLE), 5)


@pytest.fixture
def sites(any_site: Factory) -> tuple[ProcessSite, ProcessSite]:
    return any_site("a"), any_site("b")


@pytest.fixture
def needs_sipp() -> None:
    if sipp_binary() is None:
        pytest.skip("sipp is not installed (apt-get install -y sip-tester)")


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_both_connections_available_then_kill_and_restart(
    sites: tuple[ProcessSite, ProcessSite], protocol: str
) -> None:
    a, b = sites
    ka = {
        "keepalive": "options" if protocol == "udp" else "crlf",
        "keepalive_interval": 0.5,
        "keepalive_timeout": 0.5,
    }
    cfg = config(a, b, protocol, retry_interval=0.5, transaction_timeout=1.0, **ka)

    async def main() -> None:
        async with AsyncPhone(cfg) as phone:
            await both_available(phone)
            mark = len(phone.history)
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            await a.kill()
            down = await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 5, since=mark)
            # bound from the configuration: one keep-alive period + its timeout (+ slack)
            assert down.t - killed_at <= 0.5 + 0.5 + 1.0 + 0.5
            await a.start()
            restarted_at = loop.time()
            up = await phone.wait_for(conn_is(0, ConnectionStatus.AVAILABLE), 5, since=mark)
            assert up.t - restarted_at <= 0.5 + 1.0 + 0.5  # retry interval + one timeout
            conn1 = [
                e
                for e in phone.history
                if isinstance(e, ConnectionStatusChanged) and e.connection == 1
            ]
            assert [e.status for e in conn1] == [
                ConnectionStatus.REGISTERING,
                ConnectionStatus.AVAILABLE,
            ]

    asyncio.run(main())


def test_dial_on_a_dead_connection_goes_out_via_the_other_site(
    sites: tuple[ProcessSite, ProcessSite], needs_sipp: None, tmp_path: Path
) -> None:
    a, b = sites
    cfg = config(a, b, retry_interval=30.0, transaction_timeout=1.0)

    async def main() -> None:
        uas, port = callee_process(tmp_path, calls=1, timeout=20)
        await register_party(b.address, b.spec.domain, "6001", host=uas.host, port=port)
        async with uas, AsyncPhone(cfg) as phone:
            await both_available(phone)
            await a.kill()
            # the renewal is far away: the first sign of the dead site is the INVITE itself
            sid = phone.dial(0, "6001")
            est = await phone.wait_for(session_is(sid, SessionStatus.ESTABLISHED), 10)
            assert isinstance(est, SessionStatusChanged) and est.connection == 1
            assert est.properties["connection_id"] == 1
            assert phone.connections[0].status is ConnectionStatus.UNAVAILABLE
            phone.hangup(sid)
            result = await uas.wait()
            assert result.ok, result.output[-2000:]

    asyncio.run(main())


def test_invite_to_a_hung_site_is_a_sip_error_408(sites: tuple[ProcessSite, ProcessSite]) -> None:
    a, b = sites
    cfg = config(
        a, b, retry_interval=30.0, transaction_timeout=1.0, failover=False, invite_timeout=1.5
    )

    async def main() -> None:
        async with AsyncPhone(cfg) as phone:
            await both_available(phone)
            await a.hang()
            try:
                sid = phone.dial(0, "6001")
                end = await phone.wait_for(session_is(sid, SessionStatus.DISCONNECTED), 5)
                assert isinstance(end, SessionStatusChanged)
                assert end.code == 408 and end.reason == "SipError 408 Request Timeout"
                down = await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 1)
                assert isinstance(down, ConnectionStatusChanged) and down.code == 408
            finally:
                await a.resume()

    asyncio.run(main())


def test_inbound_call_via_b_while_a_is_down(
    sites: tuple[ProcessSite, ProcessSite], needs_sipp: None, tmp_path: Path
) -> None:
    a, b = sites
    cfg = config(a, b, retry_interval=30.0, transaction_timeout=1.0)

    async def main() -> None:
        async with AsyncPhone(cfg) as phone:
            await both_available(phone)
            await a.kill()
            uac = caller_process(tmp_path, b.address, "5001", hold_ms=300, timeout=15)
            async with uac:
                ringing = await phone.wait_for(
                    session_is(None, SessionStatus.RINGING, "inbound"), 10
                )
                assert isinstance(ringing, SessionStatusChanged) and ringing.connection == 1
                phone.answer(ringing.session)
                await phone.wait_for(session_is(ringing.session, SessionStatus.ESTABLISHED), 5)
                end = await phone.wait_for(
                    session_is(ringing.session, SessionStatus.DISCONNECTED), 10
                )
                assert isinstance(end, SessionStatusChanged) and end.reason == "RemoteHangup"
                result = await uac.wait()
                assert result.ok, result.output[-2000:]

    asyncio.run(main())


def test_second_call_holds_the_first(
    sites: tuple[ProcessSite, ProcessSite], needs_sipp: None, tmp_path: Path
) -> None:
    a, b = sites
    cfg = config(a, b, retry_interval=30.0, transaction_timeout=2.0)

    async def main() -> None:
        uas, port = callee_process(tmp_path, calls=2, timeout=20)
        for site in (a, b):
            await register_party(site.address, site.spec.domain, "6001", host=uas.host, port=port)
        async with uas, AsyncPhone(cfg) as phone:
            await both_available(phone)
            first = phone.dial(0, "6001")
            await phone.wait_for(session_is(first, SessionStatus.ESTABLISHED), 5)
            second = phone.dial(1, "6001")
            held = await phone.wait_for(session_is(first, SessionStatus.ON_HOLD), 5)
            est = await phone.wait_for(session_is(second, SessionStatus.ESTABLISHED), 5)
            assert isinstance(held, SessionStatusChanged) and held.connection == 0
            assert isinstance(est, SessionStatusChanged) and est.connection == 1
            phone.hangup(second)
            phone.hangup(first)
            result = await uas.wait()
            assert result.ok, result.output[-2000:]

    asyncio.run(main())


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_registers_with_digest_auth(any_site: Factory, protocol: str) -> None:
    a, b = any_site("a", password="pw1"), any_site("b", password="pw1")
    good = config(a, b, protocol, password="pw1")
    bad = config(a, b, protocol, password="wrong", retry_interval=30.0)

    async def main() -> None:
        async with AsyncPhone(good) as phone:
            await both_available(phone)
        async with AsyncPhone(bad) as phone:
            down = await phone.wait_for(conn_is(0, ConnectionStatus.UNAVAILABLE), 5)
            assert isinstance(down, ConnectionStatusChanged) and down.code in (401, 403)

    asyncio.run(main())
