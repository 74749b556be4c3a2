"""TLS in virtual time: a reliable transport like TCP whose first message waits for a
handshake (its round trips and its cost), whose certificates are checked as a real client
checks them, and whose connection is set up again after the site's restart."""

from __future__ import annotations

import functools

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from lab.sim.loop import run
from lab.sim.network import SIM_CA, TLS_HANDSHAKE_CPU, Link, SimNetwork, SimSockets
from lab.sim.site import SimSite
from lab.sites.base import SiteSpec

LATENCY = 0.01


def registered_after(protocol: str, certificate: str = "valid", **tls: object) -> PhoneEvent:
    """The connection's first status after Registering, on a fixed-latency path."""

    async def main() -> PhoneEvent:
        network = SimNetwork(seed=1)
        network.default = Link(latency=LATENCY)
        site = SimSite(SiteSpec(name="a", ip="10.1.0.1"), network, certificate=certificate)
        await site.start()
        address = site.tls_address if protocol == "tls" else site.address
        settings = {"tls_ca": SIM_CA, **tls} if protocol == "tls" else {}
        conn = ConnectionConfig.model_validate({
            "id": 0, "user": "5001", "server": address[0], "port": address[1],
            "protocol": protocol, "domain": site.spec.domain, **settings,
        })  # fmt: skip
        config = EndpointConfig(local_host="10.200.0.9", local_port=5060, connections=[conn])
        phone = AsyncPhone(config, sockets=functools.partial(SimSockets, network))
        await phone.start()
        event = await phone.wait_for(
            lambda e: (
                isinstance(e, ConnectionStatusChanged)
                and e.status is not ConnectionStatus.REGISTERING
            ),
            5,
        )
        await phone.close(unregister=False)
        return event

    return run(main())


def test_a_tls_registration_costs_the_handshake_more_than_tcp() -> None:
    tcp, tls = registered_after("tcp"), registered_after("tls")
    assert isinstance(tcp, ConnectionStatusChanged) and isinstance(tls, ConnectionStatusChanged)
    assert tcp.status is tls.status is ConnectionStatus.AVAILABLE
    assert tls.t - tcp.t == pytest.approx(4 * LATENCY + TLS_HANDSHAKE_CPU, abs=1e-6)


@pytest.mark.parametrize(
    ("certificate", "tls", "words"),
    [
        ("wrong_ca", {}, "is not signed by a trusted CA"),
        ("valid", {"tls_ca": "/some/other/ca.pem"}, "is not signed by a trusted CA"),
        ("expired", {}, "has expired"),
        ("wrong_name", {}, "is not for a.geolab.test"),
        ("valid", {"tls_server_name": "b.geolab.test"}, "is not for b.geolab.test"),
    ],
)
def test_a_refused_certificate_in_virtual_time_says_what_a_real_one_says(
    certificate: str, tls: dict[str, object], words: str
) -> None:
    event = registered_after("tls", certificate, **tls)
    assert isinstance(event, ConnectionStatusChanged)
    assert event.status is ConnectionStatus.UNAVAILABLE
    assert event.reason == f"transport error: TLS: the site's certificate {words}"
