"""TLS connections on real sockets: the site's certificate verified against the configured
CA with its name (sent as SNI), a refused certificate as the status's reason and retried at
retry_interval (not in a loop), CRLF keep-alives over TLS, and a lost TLS connection to an
Available site re-registered at once."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.aio.tls import server_context
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from endpoint.sip.message import Message
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.system.certs import LabCertificates
from lab.system.net import allocate_address

DOMAIN = "a.geolab.test"


def tls_connection(lab: Lab, site: str, **settings: object) -> ConnectionConfig:
    ip, port = lab.target(site, "tls")
    return ConnectionConfig.model_validate({
        "id": 0, "user": "5001", "server": ip, "port": port, "protocol": "tls",
        "domain": lab.site(site).spec.domain, "tls_ca": lab.tls_ca(), **settings,
    })  # fmt: skip


def status_of(connection: int, status: ConnectionStatus) -> Callable[[PhoneEvent], bool]:
    def match(e: PhoneEvent) -> bool:
        return (
            isinstance(e, ConnectionStatusChanged)
            and e.connection == connection
            and e.status is status
        )

    return match


def test_a_tls_connection_registers_with_tls_in_via_and_contact_and_sips_when_asked() -> None:
    async def main() -> tuple[list[Message], list[str]]:
        async with Lab(LabConfig(sites=["a"], backend="embedded")) as lab:
            config = EndpointConfig(connections=[tls_connection(lab, "a", sips=True)])
            sent: list[Message] = []
            transports: list[str] = []
            phone = AsyncPhone(config)
            phone.taps.append(
                lambda d, m, _, t: (sent.append(m), transports.append(t)) if d == "out" else None
            )
            async with phone:
                await phone.wait_for(status_of(0, ConnectionStatus.AVAILABLE), timeout=5)
            return sent, transports

    sent, transports = asyncio.run(main())
    register = sent[0]
    assert transports[0] == "tls"
    assert register.headers.get("Via", "").startswith("SIP/2.0/TLS ")
    assert str(register.headers.get("Contact")).startswith("<sips:5001@")
    assert register.headers.get("To") == f"<sips:5001@{DOMAIN}>"


def test_the_handshake_sends_the_site_domain_as_sni(tmp_path: Path) -> None:
    certs = LabCertificates(tmp_path / "tls")
    cert = certs.for_site("a", DOMAIN, ())
    asked: list[str | None] = []
    context = server_context(str(cert.cert_file), str(cert.key_file))

    def note(_sock: object, name: str | None, _ctx: object) -> None:
        asked.append(name)

    context.sni_callback = note  # type: ignore[assignment]
    host = allocate_address()

    async def main() -> None:
        got = asyncio.Event()
        server = await asyncio.start_server(lambda r, w: got.set(), host, 0, ssl=context)
        port = server.sockets[0].getsockname()[1]
        conn = ConnectionConfig(id=0, user="5001", server=host, port=port, protocol="tls",
                                domain=DOMAIN, tls_ca=str(certs.ca_file))  # fmt: skip
        async with server, AsyncPhone(EndpointConfig(connections=[conn])):
            await asyncio.wait_for(got.wait(), 5)

    asyncio.run(main())
    assert asked == [DOMAIN]


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("wrong_ca", "not signed by a trusted CA"),
        ("expired", "has expired"),
        ("wrong_name", f"is not for {DOMAIN}"),
    ],
)
def test_a_refused_certificate_is_the_reason_and_is_retried_at_retry_interval(
    tmp_path: Path, kind: str, words: str
) -> None:
    certs = LabCertificates(tmp_path / "tls")
    cert = certs.for_site("a", DOMAIN, (), kind)
    context = server_context(str(cert.cert_file), str(cert.key_file))
    host = allocate_address()
    retry = 0.4

    async def main() -> tuple[ConnectionStatusChanged, list[float]]:
        loop = asyncio.get_running_loop()
        attempts: list[float] = []
        fourth = asyncio.Event()
        tls_server = await loop.create_server(asyncio.Protocol, host, 0, ssl=context)
        port = tls_server.sockets[0].getsockname()[1]
        counting = await _counting_relay(host, port, attempts, fourth, loop)
        conn = ConnectionConfig(id=0, user="5001", server=host, port=counting, protocol="tls",
                                domain=DOMAIN, tls_ca=str(certs.ca_file), retry_interval=retry,
                                transaction_timeout=2)  # fmt: skip
        async with tls_server, AsyncPhone(EndpointConfig(connections=[conn])) as phone:
            event = await phone.wait_for(status_of(0, ConnectionStatus.UNAVAILABLE), timeout=5)
            await asyncio.wait_for(fourth.wait(), 10 * retry)
            assert not any(status_of(0, ConnectionStatus.AVAILABLE)(e) for e in phone.history)
        assert isinstance(event, ConnectionStatusChanged)
        return event, attempts

    event, attempts = asyncio.run(main())
    assert words in event.reason and event.reason.startswith("transport error: TLS:")
    gaps = [b - a for a, b in itertools.pairwise(attempts)][:3]
    assert all(retry * 0.8 <= gap <= retry * 3 for gap in gaps), gaps  # no tight loop


async def _counting_relay(
    host: str, port: int, attempts: list[float], fourth: asyncio.Event,
    loop: asyncio.AbstractEventLoop,
) -> int:  # fmt: skip
    """A TCP relay in front of ``port`` that notes when each connection comes."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        attempts.append(loop.time())
        if len(attempts) == 4:
            fourth.set()
        up_reader, up_writer = await asyncio.open_connection(host, port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    relay = await asyncio.start_server(client, host, 0)
    return int(relay.sockets[0].getsockname()[1])


def watch_registers(phone: AsyncPhone) -> tuple[list[float], asyncio.Event]:
    """When the phone sends each REGISTER, and an event set at the second."""
    registers: list[float] = []
    again = asyncio.Event()

    def tap(direction: str, message: Message, *_: object) -> None:
        if direction == "out" and getattr(message, "method", "") == "REGISTER":
            registers.append(phone.now)
            if len(registers) == 2:
                again.set()

    phone.taps.append(tap)
    return registers, again


def test_a_lost_tls_connection_to_an_available_site_re_registers_at_once() -> None:
    async def main() -> tuple[float, float]:
        async with Lab(LabConfig(sites=["a"], backend="embedded")) as lab:
            config = EndpointConfig(connections=[tls_connection(lab, "a", reg_interval=3600)])
            phone = AsyncPhone(config)
            registers, again = watch_registers(phone)
            async with phone:
                await phone.wait_for(status_of(0, ConnectionStatus.AVAILABLE), timeout=5)
                record = await lab.apply("restart", "a")  # its connections close with it
                await asyncio.wait_for(again.wait(), 5)
                return record.applied_at, registers[1]

    restarted, second = asyncio.run(main())
    assert second - restarted < 2.0  # not at the renewal, an hour away


def test_crlf_keepalives_run_over_tls_and_a_hung_site_is_found_by_them() -> None:
    async def main() -> tuple[float, ConnectionStatusChanged]:
        async with Lab(LabConfig(sites=["a"], backend="embedded")) as lab:
            conn = tls_connection(lab, "a", keepalive="crlf", keepalive_interval=0.3,
                                  keepalive_timeout=0.5)  # fmt: skip
            async with AsyncPhone(EndpointConfig(connections=[conn])) as phone:
                await phone.wait_for(status_of(0, ConnectionStatus.AVAILABLE), timeout=5)
                record = await lab.apply("hang", "a")
                event = await phone.wait_for(status_of(0, ConnectionStatus.UNAVAILABLE), 5)
                assert isinstance(event, ConnectionStatusChanged)
                return record.applied_at, event

    hung_at, event = asyncio.run(main())
    assert "keep-alive" in event.reason
    assert event.t - hung_at <= 0.3 + 0.5 + 0.5  # interval + timeout, and slack


def test_a_ca_bundle_that_cannot_be_read_is_the_reason(tmp_path: Path) -> None:
    host = allocate_address()
    conn = ConnectionConfig(id=0, user="5001", server=host, port=5061, protocol="tls",
                            tls_ca=str(tmp_path / "missing.pem"))  # fmt: skip

    async def main() -> ConnectionStatusChanged:
        server = await asyncio.start_server(lambda r, w: None, host, 5061)
        async with server, AsyncPhone(EndpointConfig(connections=[conn])) as phone:
            event = await phone.wait_for(status_of(0, ConnectionStatus.UNAVAILABLE), 5)
            assert isinstance(event, ConnectionStatusChanged)
            return event

    event = asyncio.run(main())
    assert "cannot read the CA bundle" in event.reason
