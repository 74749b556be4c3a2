"""Fleet benchmark, real mode: N endpoints (one connection each) register at once on one
local Kamailio; their REGISTER rate next to SIPp's against the same Kamailio in the same
run, and the ratio (goal: at least half of SIPp's).

    python -m bench.fleet [--endpoints N]      (or: geolab bench fleet)
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.sip import sipp_register_rate
from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged
from lab.net import allocate_address
from lab.sites.base import SiteSpec
from lab.sites.kamailio import KamailioSite, kamailio_binary


async def fleet_rate(
    site: KamailioSite, endpoints: int, *, sockets_first: bool, first_user: int = 200000
) -> float:
    """Registrations per second of ``endpoints`` phones registering at once, counted from
    their start (socket set-up included) or, ``sockets_first``, from their first REGISTER."""
    phones = [
        AsyncPhone(
            EndpointConfig(
                connections=[
                    ConnectionConfig(
                        id=0,
                        user=str(first_user + i),
                        server=site.spec.ip,
                        port=site.spec.port,
                        reg_interval=3600,
                    )
                ]
            )
        )
        for i in range(endpoints)
    ]
    done = asyncio.Event()
    available = 0

    def on_event(event: object) -> None:
        nonlocal available
        if (
            isinstance(event, ConnectionStatusChanged)
            and event.status is ConnectionStatus.AVAILABLE
        ):
            available += 1
            if available == endpoints:
                done.set()

    for phone in phones:
        phone.subscribe(on_event)
    opened = time.perf_counter()
    if sockets_first:  # the REGISTER rate alone: every phone's sockets are bound already
        for phone in phones:
            await phone.open()
    start = time.perf_counter()
    await asyncio.gather(*(phone.start() for phone in phones))
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - (start if sockets_first else opened)
    for phone in phones:
        await phone.close(unregister=False)
    return endpoints / elapsed


async def bench(endpoints: int) -> None:
    print(f"geolab bench fleet ({endpoints} endpoints, real sockets, one local Kamailio)")
    if kamailio_binary() is None:
        print("  kamailio not installed: nothing to measure")
        return
    with tempfile.TemporaryDirectory(prefix="geolab-bench-") as tmp:
        site = KamailioSite(SiteSpec(name="fleet", ip=allocate_address()), Path(tmp), shm_mb=128)
        await site.start()
        try:
            startup = await fleet_rate(site, endpoints, sockets_first=False)
            # best of three for both: one lost datagram costs a 500 ms retransmission, and
            # a rate measured over a fraction of a second is then a third of what it is
            ours = max(
                [
                    await fleet_rate(site, endpoints, sockets_first=True, first_user=u)
                    for u in (300000, 400000, 500000)
                ]
            )
            # SIPp's rate from enough registrations that its own start-up does not count
            runs = [await sipp_register_rate(site, max(endpoints, 5000)) for _ in range(3)]
            theirs = max((r for r in runs if r is not None), default=None)
        finally:
            await site.stop()
    print(
        f"  fleet start-up rate   {startup:>9,.0f} registrations/s (sockets opened, then REGISTER)"
    )
    print(
        f"  fleet REGISTER rate   {ours:>9,.0f} registrations/s (sockets already open; best of 3)"
    )
    if theirs is None:
        print("  sipp not installed: no comparison")
        return
    print(
        f"  SIPp REGISTER rate    {theirs:>9,.0f} registrations/s "
        "(same Kamailio, same run; best of 3)"
    )
    print(f"  ratio fleet/SIPp      {ours / theirs:>9.2f}  (goal: at least 0.5)")


def main(endpoints: int = 500) -> int:
    asyncio.run(bench(endpoints))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoints", type=int, default=500)
    raise SystemExit(main(parser.parse_args().endpoints))
