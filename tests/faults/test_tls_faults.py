"""TLS crosses the fault proxy as TCP: its faults apply to a TLS connection (sliced
records still make a registration, a reset connection is registered again at once,
latency delays it, a partition silences it), and the SIP-aware rules are said to be
skipped there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from tests.aio.test_tls import watch_registers


def status(status: ConnectionStatus) -> Callable[[PhoneEvent], bool]:
    return lambda e: isinstance(e, ConnectionStatusChanged) and e.status is status


def phone_on(lab: Lab, **settings: object) -> AsyncPhone:
    ip, port = lab.target("a", "tls")
    conn = ConnectionConfig.model_validate({
        "id": 0, "user": "5001", "server": ip, "port": port, "protocol": "tls",
        "domain": lab.site("a").spec.domain, "tls_ca": lab.tls_ca(), "transaction_timeout": 2,
        **settings,
    })  # fmt: skip
    return AsyncPhone(EndpointConfig(connections=[conn]))


def test_sliced_and_delayed_tls_still_registers_and_the_delay_shows() -> None:
    async def main() -> tuple[float, float]:
        async with Lab(LabConfig(sites=["a"], backend="embedded")) as lab:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            async with phone_on(lab) as phone:
                plain = (await phone.wait_for(status(ConnectionStatus.AVAILABLE), 5)).t - t0
            async with lab.fault("slicer", "a", transport="tls", average_size=7,
                                 size_variation=3, delay=0), \
                       lab.fault("latency", "a", transport="tls", latency=150):  # fmt: skip
                t0 = loop.time()
                async with phone_on(lab) as phone:
                    event = await phone.wait_for(status(ConnectionStatus.AVAILABLE), 10)
                    hurt = event.t - t0
            return plain, hurt

    plain, hurt = asyncio.run(main())
    # TCP's and TLS 1.3's handshakes and the REGISTER exchange each cross the 150 ms one way
    assert hurt >= plain + 0.3


def test_a_reset_tls_connection_is_registered_again_at_once() -> None:
    async def main() -> tuple[float, float]:
        async with Lab(LabConfig(sites=["a"], backend="embedded")) as lab:
            phone = phone_on(lab, keepalive="crlf", keepalive_interval=0.3)  # data to reset
            registers, again = watch_registers(phone)
            async with phone:
                await phone.wait_for(status(ConnectionStatus.AVAILABLE), 5)
                async with lab.fault("reset_peer", "a", transport="tls", timeout=0) as record:
                    await asyncio.wait_for(again.wait(), 5)  # the next ping is reset
                return record.applied_at, registers[1]

    reset_at, second = asyncio.run(main())
    assert second - reset_at < 0.3 + 1.0  # at the reset, not at a retry 30 s on


def test_a_partition_silences_tls_and_sip_rules_are_skipped_there() -> None:
    async def main() -> tuple[float, ConnectionStatusChanged, list[str]]:
        async with (
            Lab(LabConfig(sites=["a"], backend="embedded")) as lab,
            phone_on(lab, keepalive="crlf", keepalive_interval=0.3, keepalive_timeout=0.5) as phone,
        ):
            await phone.wait_for(status(ConnectionStatus.AVAILABLE), 5)
            async with lab.fault("sip_drop", "a", method="OPTIONS") as rule:
                skipped = list(rule.undo.get("skipped", []))
            record = await lab.apply("partition", "a", transport="tls")
            event = await phone.wait_for(status(ConnectionStatus.UNAVAILABLE), 5)
            assert isinstance(event, ConnectionStatusChanged)
            return record.applied_at, event, skipped

    cut_at, event, skipped = asyncio.run(main())
    assert "keep-alive" in event.reason and event.t - cut_at <= 0.3 + 0.5 + 0.5
    assert skipped == ["tls: SIP toxics cannot read TLS",
                       "ws: SIP toxics do not act inside WebSocket frames",
                       "wss: SIP toxics cannot read TLS"]  # fmt: skip
