"""Endpoint failover benchmark against two local Kamailio sites, N trials each:

- registration: a phone's start -> Available, over UDP, TCP and TLS
- the TLS handshake's own cost on loopback: a TLS connect against a TCP connect
- SIGKILL of site A -> Unavailable on connection 0 (UDP with OPTIONS keep-alive; TCP; TLS)
- restart of site A -> Available again
- failover dial: dial on connection 0 while A is dead -> 200 OK through site B
  (A silently dead and not yet detected; and A already known Unavailable)

    python -m bench.endpoint [--trials 20]      (or: geolab bench endpoint)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from endpoint.aio.phone import AsyncPhone
from endpoint.aio.tls import client_context
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
from lab.system.certs import LabCertificates
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


def config(
    a: KamailioSite, b: KamailioSite, protocol: str, settings: Mapping[str, object] | None = None,
    *, count: int = 2,
) -> EndpointConfig:  # fmt: skip
    common = {
        "user": "5001",
        "protocol": protocol,
        "retry_interval": 0.25,
        "transaction_timeout": 1.0,
        **(settings or {}),
    }

    def where(s: KamailioSite) -> dict[str, object]:
        cert = s.spec.certificate
        if protocol != "tls" or cert is None or s.tls_address is None:
            return {"server": s.spec.ip}
        ca_file = cert.cert_file.parents[1] / "ca.pem"  # LabCertificates: <folder>/ca.pem
        return {"server": s.spec.ip, "port": s.tls_address[1], "domain": s.spec.domain,
                "tls_ca": str(ca_file)}  # fmt: skip

    return EndpointConfig(
        connections=[
            ConnectionConfig.model_validate({"id": i, **where(s), **common})
            for i, s in enumerate((a, b)[:count])
        ],
        invite_timeout=1.0,
    )


async def registrations(
    a: KamailioSite, b: KamailioSite, protocol: str, trials: int
) -> list[float]:
    """A fresh phone's start -> Available on site A (a new connection each time)."""
    samples = []
    for _ in range(trials):
        phone = AsyncPhone(config(a, b, protocol, count=1))
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        async with phone:
            event = await phone.wait_for(conn_event(0, ConnectionStatus.AVAILABLE), 5)
            samples.append(event.t - t0)
    return samples


async def connects(a: KamailioSite, trials: int, ca_file: str) -> tuple[list[float], list[float]]:
    """Plain TCP connects to site A's TCP port, and TLS connects (handshake done) to its TLS
    port, each closed again."""
    assert a.tls_address is not None
    context = client_context(ca_file)
    loop = asyncio.get_running_loop()
    tcp: list[float] = []
    tls: list[float] = []
    for _ in range(trials):
        for samples, address, tls_args in (
            (tcp, a.address, {}),
            (tls, a.tls_address, {"ssl": context, "server_hostname": a.spec.domain}),
        ):
            t0 = loop.time()
            _, writer = await asyncio.open_connection(*address, **tls_args)  # type: ignore[arg-type]
            samples.append(loop.time() - t0)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return tcp, tls


async def kill_and_restart(
    a: KamailioSite,
    b: KamailioSite,
    protocol: str,
    trials: int,
) -> tuple[list[float], list[float]]:
    ka = {"keepalive": "options" if protocol == "udp" else "crlf", **KEEPALIVE}
    down, up = [], []
    async with AsyncPhone(config(a, b, protocol, ka)) as phone:
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
    async with uas, AsyncPhone(config(a, b, "udp", ka)) as phone:
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
        certs = LabCertificates(base / "tls")
        sites = []
        for name in ("a", "b"):
            spec = SiteSpec(name=name, ip=allocate_address())
            cert = certs.for_site(name, spec.domain, (spec.ip,))
            spec = SiteSpec(name=name, ip=spec.ip, tls_port=5061, certificate=cert)
            sites.append(KamailioSite(spec, base / name))
        a, b = sites
        await a.start()
        await b.start()
        try:
            print(
                f"  config: keep-alive every {KEEPALIVE['keepalive_interval']}s "
                f"(timeout {KEEPALIVE['keepalive_timeout']}s), retry 0.25s, "
                "transaction timeout 1s, INVITE timeout 1s"
            )
            for protocol in ("udp", "tcp", "tls"):
                samples = await registrations(a, b, protocol, trials)
                print(figures(f"registration (start -> Available), {protocol.upper()}", samples))
            tcp, tls = await connects(a, trials, str(certs.ca_file))
            print(figures("TCP connect", tcp))
            print(figures("TLS connect (TCP + TLS 1.3 handshake, verified)", tls))
            cost = statistics.median(tls) - statistics.median(tcp)
            print(f"  {'TLS handshake cost (median TLS - median TCP)':<52} {cost * 1000:8.1f} ms")
            for protocol in ("udp", "tcp", "tls"):
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
