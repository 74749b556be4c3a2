"""Endpoint failover benchmark against two local Kamailio sites, N trials each:

- SIGKILL of site A -> Unavailable on connection 0 (UDP with OPTIONS keep-alive; TCP)
- restart of site A -> Available again
- failover dial: dial on connection 0 while A is dead -> 200 OK through site B
  (A silently dead and not yet detected; and A already known Unavailable)

    python -m bench.endpoint [--trials 20]      (or: geolab bench endpoint)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

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
from lab.parties.sipp import callee_process
from lab.sites.base import SiteSpec
from lab.sites.kamailio import KamailioSite
from lab.system.net import allocate_address

KEEPALIVE = {"keepalive_interval": 1.0, "keepalive_timeout": 0.5}


def conn_event(conn: int, status: ConnectionStatus) -> Callable[[PhoneEvent], bool]:
    return lambda e: (
        isinstance(e, ConnectionStatusChanged) and e.connection == conn and e.status is status
    )


def figures(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"  {name:<52} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   (n={len(ms)})"
    )


def config(a: KamailioSite, b: KamailioSite, protocol: str, **kw: object) -> EndpointConfig:
    common = {
        "user": "5001",
        "protocol": protocol,
        "retry_interval": 0.25,
        "transaction_timeout": 1.0,
        **kw,
    }
    return EndpointConfig(
        connections=[
            ConnectionConfig.model_validate({"id": i, "server": s.spec.ip, **common})
            for i, s in enumerate((a, b))
        ],
        invite_timeout=1.0,
    )


async def kill_and_restart(
    a: KamailioSite,
    b: KamailioSite,
    protocol: str,
    trials: int,
) -> tuple[list[float], list[float]]:
    ka = {"keepalive": "options" if protocol == "udp" else "crlf", **KEEPALIVE}
    down, up = [], []
    async with AsyncPhone(config(a, b, protocol, **ka)) as phone:
        await phone.wait_for(conn_event(0, ConnectionStatus.AVAILABLE), 5)
        loop = asyncio.get_running_loop()
        for _ in range(trials):
            mark = len(phone.history)
            t0 = loop.time()
            await a.kill()
            event = await phone.wait_for(
                conn_event(0, ConnectionStatus.UNAVAILABLE), 10, since=mark
            )
            down.append(event.t - t0)
            mark = len(phone.history)
            t0 = loop.time()
            await a.start()
            event = await phone.wait_for(conn_event(0, ConnectionStatus.AVAILABLE), 10, since=mark)
            up.append(event.t - t0)
    return down, up


async def failover_dials(
    a: KamailioSite, b: KamailioSite, trials: int, rundir: Path, *, known_down: bool
) -> list[float]:
    uas, port = callee_process(
        rundir, calls=trials, timeout=30 + trials * 5, name=f"callee-{known_down}"
    )
    await register_party(b.address, b.spec.domain, "6001", host=uas.host, port=port)
    samples = []
    ka = {"keepalive": "options", **KEEPALIVE} if known_down else {}
    async with uas, AsyncPhone(config(a, b, "udp", **ka)) as phone:
        loop = asyncio.get_running_loop()
        for _ in range(trials):
            await phone.wait_for(
                conn_event(0, ConnectionStatus.AVAILABLE), 10, since=len(phone.history) - 4
            )
            await a.kill()
            mark = len(phone.history)
            if known_down:  # the keep-alive finds it first
                await phone.wait_for(conn_event(0, ConnectionStatus.UNAVAILABLE), 5, since=mark)
            mark = len(phone.history)
            t0 = loop.time()
            sid = phone.dial(0, "6001")

            def established(e: PhoneEvent, sid: str = sid) -> bool:
                return (
                    isinstance(e, SessionStatusChanged)
                    and e.session == sid
                    and e.status is SessionStatus.ESTABLISHED
                )

            event = await phone.wait_for(established, 10, since=mark)
            samples.append(event.t - t0)
            phone.hangup(sid)
            mark = len(phone.history)
            await a.start()
            await phone.wait_for(conn_event(0, ConnectionStatus.AVAILABLE), 10, since=mark)
    return samples


async def bench(trials: int) -> None:
    print(f"geolab bench endpoint ({trials} trials each, two local Kamailio sites)")
    with tempfile.TemporaryDirectory(prefix="geolab-bench-") as tmp:
        base = Path(tmp)
        a = KamailioSite(SiteSpec(name="a", ip=allocate_address()), base / "a")
        b = KamailioSite(SiteSpec(name="b", ip=allocate_address()), base / "b")
        await a.start()
        await b.start()
        try:
            print(
                f"  config: keep-alive every {KEEPALIVE['keepalive_interval']}s "
                f"(timeout {KEEPALIVE['keepalive_timeout']}s), retry 0.25s, "
                "transaction timeout 1s, INVITE timeout 1s"
            )
            for protocol in ("udp", "tcp"):
                down, up = await kill_and_restart(a, b, protocol, trials)
                how = (
                    "OPTIONS keep-alive"
                    if protocol == "udp"
                    else "CRLF keep-alive + connection loss"
                )
                print(figures(f"SIGKILL -> Unavailable, {protocol.upper()} ({how})", down))
                print(figures(f"restart -> Available, {protocol.upper()}", up))
            dials = await failover_dials(a, b, trials, base, known_down=False)
            print(figures("failover dial, A dead but not yet detected", dials))
            dials = await failover_dials(a, b, trials, base, known_down=True)
            print(figures("failover dial, A already Unavailable", dials))
        finally:
            await a.stop()
            await b.stop()


def main(trials: int = 20) -> int:
    asyncio.run(bench(trials))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    raise SystemExit(main(parser.parse_args().trials))
