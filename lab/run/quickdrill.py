"""The smallest real drill: two sites (Kamailio where it is installed, else embedded), one
user registered on both over UDP and TCP, round-trip times printed, everything stopped."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_register
from lab.sites.base import Site, SiteSpec
from lab.sites.factory import make_site, resolve_backend
from lab.system.net import allocate_address


@dataclass(frozen=True, slots=True)
class Registration:
    site: str
    backend: str
    transport: str
    status: int
    rtt_ms: float


async def register_once(stack: SipStack, site: Site, transport: str, user: str) -> Registration:
    domain = site.spec.domain
    request = build_register(
        user,
        domain,
        via=stack.via(transport),
        tag=stack.ids.tag(),
        call_id=stack.ids.call_id(stack.host),
        contact=f"<sip:{user}@{stack.host}:{stack.port};transport={transport}>",
        expires=60,
    )
    start = stack.now
    response = await stack.request(request, site.address, transport)
    elapsed_ms = (stack.now - start) * 1000
    return Registration(site.name, site.backend, transport, response.status, elapsed_ms)


async def quick_drill(user: str = "5001", rundir: Path | None = None) -> list[Registration]:
    base = rundir or Path(tempfile.mkdtemp(prefix="geolab-drill-"))
    backend = resolve_backend("auto")  # Kamailio where installed, else the embedded site
    sites = [make_site(backend, SiteSpec(name=n, ip=allocate_address()), base / n) for n in "ab"]
    results: list[Registration] = []
    started: list[Site] = []
    try:
        for site in sites:
            await site.start()
            started.append(site)
        async with SipStack("127.0.0.1") as stack:
            for transport in ("udp", "tcp"):
                results += await asyncio.gather(
                    *(register_once(stack, site, transport, user) for site in sites)
                )
    finally:
        for running in started:
            await asyncio.shield(running.stop())
    return results
