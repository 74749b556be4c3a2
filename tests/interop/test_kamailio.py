"""The SIP core against a real Kamailio on 127.x: REGISTER, auth, OPTIONS, a hung site."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import pytest

from endpoint.aio.stack import SipStack
from endpoint.sip import Request
from endpoint.sip.auth import DigestClient
from endpoint.sip.builder import build_register
from endpoint.sip.timers import TimerConfig
from lab.sites.kamailio import KamailioSite, control_socket
from lab.sites.probe import options_ping
from lab.sites.process import ProcessSite

pytestmark = pytest.mark.interop
Factory = Callable[..., KamailioSite]


def register(stack: SipStack, site: KamailioSite, transport: str, user: str = "1001") -> Request:
    domain = site.spec.domain
    return build_register(
        user,
        domain,
        via=stack.via(transport),
        tag=stack.ids.tag(),
        call_id=stack.ids.call_id(stack.host),
        contact=f"<sip:{user}@{stack.host}:{stack.port};transport={transport}>",
        expires=60,
    )


def registered_contacts(site: KamailioSite) -> str:
    result = subprocess.run(
        ["kamcmd", "-s", f"unix:{control_socket(site.rundir)}", "ul.dump"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_without_auth(kamailio_site: Factory, transport: str) -> None:
    site = kamailio_site("a")

    async def main() -> None:
        async with SipStack("127.0.0.1") as stack:
            response = await stack.request(
                register(stack, site, transport), site.address, transport
            )
            assert response.status == 200
            assert "geolab-site-a" in (response.headers.get("Server") or "")

    asyncio.run(main())
    dump = registered_contacts(site)
    assert "1001" in dump and f"transport={transport}" in dump


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_register_with_digest_auth(kamailio_site: Factory, transport: str) -> None:
    site = kamailio_site("a", password="s3cret")

    async def main() -> None:
        async with SipStack("127.0.0.1") as stack:
            first = await stack.request(register(stack, site, transport), site.address, transport)
            assert first.status == 401
            wrong = DigestClient("1001", "not-it")
            _, refused = await stack.request_with_auth(
                register(stack, site, transport), site.address, transport, wrong
            )
            assert refused.status in (401, 403)
            req, ok = await stack.request_with_auth(
                register(stack, site, transport),
                site.address,
                transport,
                DigestClient("1001", "s3cret"),
            )
            assert ok.status == 200
            assert req.cseq.seq == 2 and req.headers.get("Authorization")

    asyncio.run(main())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_options_is_answered(kamailio_site: Factory, transport: str) -> None:
    site = kamailio_site("a")
    assert asyncio.run(options_ping(*site.address, transport=transport)) == 200


def test_hung_site_times_out_at_64_t1_then_answers_after_resume(kamailio_site: Factory) -> None:
    site = kamailio_site("a")
    t1 = 0.05

    async def main() -> None:
        timers = {"udp": TimerConfig(t1=t1, t2=0.4, t4=0.5)}
        async with SipStack("127.0.0.1", timers=timers) as stack:
            await site.hang()
            loop = asyncio.get_running_loop()
            start = loop.time()
            event = await stack.transact(register(stack, site, "udp"), site.address, "udp")
            elapsed = loop.time() - start
            assert event.local and event.response.status == 408
            assert 64 * t1 * 0.95 <= elapsed < 64 * t1 + 1.0
            await site.resume()
            response = await stack.request(register(stack, site, "udp"), site.address, "udp")
            assert response.status == 200

    asyncio.run(main())


def test_killed_site_is_silent_and_restart_answers(kamailio_site: Factory) -> None:
    site = kamailio_site("a")

    async def main() -> None:
        await site.kill()
        assert await options_ping(*site.address, timeout=0.5) is None
        await site.start()
        assert await options_ping(*site.address) == 200

    asyncio.run(main())


def test_sipp_s_own_register_rate_leaves_its_start_up_out(
    kamailio_site: Callable[..., ProcessSite],
) -> None:
    """The fleet benchmark compares against SIPp's count of its own rate: read from its
    final statistics, and higher than what the process's whole life would give."""
    from bench.sip import IN_FLIGHT
    from lab.parties.sipp import SCENARIOS, run_sipp, sipp_binary
    from lab.system.net import free_port

    if sipp_binary() is None:
        pytest.skip("sipp is not installed")
    site = kamailio_site("rate")
    args = ["-sf", str(SCENARIOS / "register.xml"), "-i", "127.0.0.1", "-p", str(free_port("127.0.0.1")),
            "-m", "2000", "-r", "50000", "-l", str(IN_FLIGHT), "-t", "u1",
            f"{site.spec.ip}:{site.spec.port}"]  # fmt: skip
    result = asyncio.run(run_sipp(args, timeout=60))
    assert result.ok and result.successful_calls == 2000
    assert result.call_rate is not None
    assert 2000 / result.seconds < result.call_rate < 2000 / 0.001


def test_sipp_registers_the_users_a_benchmark_round_names(
    kamailio_site: Callable[..., ProcessSite],
) -> None:
    """Each side of the fleet benchmark registers users the registrar has not seen: SIPp's
    users carry the round's prefix, and the registrar holds them under it, in a location
    table sized for storms."""
    from bench.sip import sipp_register_rate
    from lab.parties.sipp import sipp_binary

    if sipp_binary() is None:
        pytest.skip("sipp is not installed")
    site = kamailio_site("fresh")
    assert isinstance(site, KamailioSite)
    rate = asyncio.run(sipp_register_rate(site, 50, "r7x"))
    assert rate is not None and rate > 0
    dump = registered_contacts(site)
    aors = {
        line.split(":", 1)[1].strip()
        for line in dump.splitlines()
        if line.strip().startswith("AoR:")
    }
    assert aors == {f"r7x{n}" for n in range(1, 51)}
    # a table sized for storms: 16k slots, not the 1k whose chains grow with the users
    assert "Size: 16384" in dump


# every character a drill's password may hold (lab/scenario/models.py Secret), in one
EVERY_ALLOWED = "".join(chr(c) for c in (0x21, *range(0x23, 0x5C), *range(0x5D, 0x7F)))


@pytest.mark.parametrize("password", ["Pw$ru-88", "Pw$zz9-88", EVERY_ALLOWED])
def test_a_password_with_any_allowed_character_registers(
    kamailio_site: Factory, password: str
) -> None:
    """``$`` starts a pseudo-variable in Kamailio's format strings: a password holding
    one must still be the password (``$ru`` was read as the Request-URI, ``$zz9`` made
    Kamailio refuse its config)."""
    site = kamailio_site("a", password=password)

    async def main() -> None:
        async with SipStack("127.0.0.1") as stack:
            _, ok = await stack.request_with_auth(
                register(stack, site, "udp"), site.address, "udp", DigestClient("1001", password)
            )
            assert ok.status == 200
            _, refused = await stack.request_with_auth(
                register(stack, site, "udp"), site.address, "udp",
                DigestClient("1001", password[:-1] + "#"),
            )  # fmt: skip
            assert refused.status in (401, 403)

    asyncio.run(main())
