"""SIP core benchmark: parse rate, and REGISTER transactions per second against one local
Kamailio over UDP next to SIPp's rate against the same Kamailio in the same run.

    python -m bench.sip [--registrations N]      (or: geolab bench sip)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from endpoint.aio.stack import SipStack
from endpoint.sip import parse_message
from endpoint.sip.builder import build_register, build_request
from endpoint.sip.sdp import Sdp
from endpoint.sip.uri import SipURI
from lab.parties.sipp import SCENARIOS, run_sipp, sipp_binary
from lab.sites.base import SiteSpec
from lab.sites.kamailio import KamailioSite, kamailio_binary
from lab.system.net import allocate_address, free_port

IN_FLIGHT = 200  # registrations under way at a time, for SIPp and the fleet alike


def typical(method: str) -> bytes:
    body = Sdp(address="192.0.2.10", port=40000).serialise() if method == "INVITE" else b""
    request = build_request(
        method,
        SipURI(user="5001" if method == "INVITE" else None, host="a.geolab.test"),
        via="SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport",
        from_='"Agent 1001" <sip:1001@a.geolab.test>;tag=1928301774',
        to="<sip:5001@a.geolab.test>" if method == "INVITE" else "<sip:1001@a.geolab.test>",
        call_id="a84b4c76e66710@192.0.2.10",
        cseq=314159,
        contact="<sip:1001@192.0.2.10:5060;transport=udp>",
        extra=[("User-Agent", "geolab-endpoint"), ("Expires", "3600")],
        body=body,
        content_type="application/sdp",
    )
    return bytes(request)


def parse_rate(data: bytes, seconds: float = 1.0) -> float:
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            parse_message(data)
        count += 200
    return count / elapsed


async def stack_register_rate(site: KamailioSite, total: int, window: int = 200) -> float:
    async with SipStack("127.0.0.1") as stack:
        sem = asyncio.Semaphore(window)
        failures = 0

        async def one(i: int) -> None:
            nonlocal failures
            async with sem:
                request = build_register(
                    f"g{i}",
                    site.spec.domain,
                    via=stack.via("udp"),
                    tag=stack.ids.tag(),
                    call_id=stack.ids.call_id("127.0.0.1"),
                    contact=f"<sip:g{i}@127.0.0.1:{stack.port}>",
                    expires=300,
                )
                response = await stack.request(request, site.address, "udp")
                failures += response.status != 200

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(total)))
        elapsed = time.perf_counter() - start
        if failures:
            print(f"  warning: {failures} of {total} registrations failed")
        return total / elapsed


async def sipp_register_rate(site: KamailioSite, total: int, users: str = "u") -> float | None:
    """SIPp's REGISTER rate: ``total`` registrations, user ``<users><call number>`` each
    (a prefix of its own gives the registrar users it has not seen, as a fleet's are)."""
    if sipp_binary() is None:
        return None
    with tempfile.TemporaryDirectory(prefix="geolab-sipp-") as tmp:
        scenario = SCENARIOS / "register.xml"
        if users != "u":
            text = scenario.read_text().replace("u[call_number]", f"{users}[call_number]")
            scenario = Path(tmp) / "register.xml"
            scenario.write_text(text)
        return await _sipp_register_rate(site, total, scenario)


async def _sipp_register_rate(site: KamailioSite, total: int, scenario: Path) -> float:
    port = free_port("127.0.0.1")
    args = [
        "-sf",
        str(scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(port),
        "-m",
        str(total),
        "-r",
        "50000",
        "-l",
        str(IN_FLIGHT),
        "-buff_size",  # room for a burst of answers, as our side gets (SIPp's default: 64 KB)
        str(4 << 20),
        "-t",
        "u1",
        f"{site.spec.ip}:{site.spec.port}",
    ]
    result = await run_sipp(args, timeout=120)
    if not result.ok:
        print(f"  warning: sipp exited {result.returncode}")
    # SIPp's own count, from its start to its last answer: spawning the process and its
    # exit are not its REGISTER rate (they were ~10 % of a run of 5,000)
    return result.call_rate or total / result.seconds


@contextlib.asynccontextmanager
async def bench_site(name: str, *, shm_mb: int) -> AsyncIterator[KamailioSite]:
    """One local Kamailio in a folder of its own, stopped (and the folder gone) after."""
    with tempfile.TemporaryDirectory(prefix="geolab-bench-") as tmp:
        site = KamailioSite(SiteSpec(name=name, ip=allocate_address()), Path(tmp), shm_mb=shm_mb)
        await site.start()
        try:
            yield site
        finally:
            await site.stop()


async def bench(total: int) -> None:
    print("geolab bench sip")
    for method in ("REGISTER", "INVITE"):
        print(f"  parse {method:<9} {parse_rate(typical(method)):>10,.0f} messages/s")
    if kamailio_binary() is None:
        print("  kamailio not installed: transaction rates skipped")
        return
    async with bench_site("bench", shm_mb=128) as site:
        # best of three for both: one lost datagram costs a 500 ms retransmission
        ours = max([await stack_register_rate(site, total) for _ in range(3)])
        runs = [await sipp_register_rate(site, total) for _ in range(3)]
        theirs = max((r for r in runs if r is not None), default=None)
    per_run = f"({total} registrations, best of 3)"
    print(f"  REGISTER over UDP, geolab stack  {ours:>10,.0f} transactions/s {per_run}")
    if theirs is None:
        print("  sipp not installed: no comparison")
        return
    print(f"  REGISTER over UDP, SIPp          {theirs:>10,.0f} transactions/s {per_run}")
    print(f"  ratio geolab/SIPp                {ours / theirs:>10.2f}")


def main(registrations: int = 5000) -> int:
    asyncio.run(bench(registrations))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registrations", type=int, default=5000)
    raise SystemExit(main(parser.parse_args().registrations))
