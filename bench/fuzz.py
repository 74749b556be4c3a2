"""Fuzzing on the wire: seeded datagrams (real SIP messages mutated: bytes flipped, cut,
headers doubled or emptied, garbage) sent to the endpoint, to the fault proxy in front of
a site, and to the site itself; afterwards every one of them must still answer, the
endpoint's connections still be registered, and memory stay flat.

    python -m bench.fuzz [--datagrams 100000] [--seed 1]     (or: geolab bench fuzz)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.sites.probe import options_ping

SEEDS = [
    b"REGISTER sip:a.geolab.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx1\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:7001@a.geolab.test>;tag=1\r\nTo: <sip:7001@a.geolab.test>\r\n"
    b"Call-ID: fz1@127.0.0.1\r\nCSeq: 1 REGISTER\r\nContact: <sip:7001@127.0.0.1:5999>\r\n"
    b"Expires: 60\r\nContent-Length: 0\r\n\r\n",
    b"INVITE sip:5001@a.geolab.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx2\r\n"
    b"Max-Forwards: 70\r\nFrom: <sip:6001@a.geolab.test>;tag=2\r\nTo: <sip:5001@a.geolab.test>\r\n"
    b"Call-ID: fz2@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:6001@127.0.0.1:5999>\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 31\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx3\r\n"
    b"From: <sip:5001@a.geolab.test>;tag=3\r\nTo: <sip:5001@a.geolab.test>;tag=4\r\n"
    b"Call-ID: fz3@127.0.0.1\r\nCSeq: 7 REGISTER\r\nContent-Length: 0\r\n\r\n",
    b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKx4\r\n"
    b"From: <sip:f@x>;tag=5\r\nTo: <sip:g@y>\r\nCall-ID: fz4\r\nCSeq: 1 OPTIONS\r\n\r\n",
]


def varied(rng: random.Random, large: bool) -> bytes:
    """A well-formed OPTIONS whose values are all new: tags, branch, Call-ID, sequence
    number, and (``large``) a From of about 20 KB that no cache may keep."""
    n = rng.getrandbits(48)
    user = f"u{n:x}" + ("x" * rng.randint(18_000, 22_000) if large else "")
    return (
        f"OPTIONS sip:5001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{n:x};rport\r\n"
        f"From: <sip:{user}@127.0.0.1>;tag={rng.getrandbits(32):x}\r\n"
        f"To: <sip:5001@127.0.0.1>\r\nCall-ID: {n:x}@fz\r\n"
        f"CSeq: {rng.randrange(1, 2**31)} OPTIONS\r\nMax-Forwards: 70\r\n"
        f"Content-Length: 0\r\n\r\n"
    ).encode()


def mutate(rng: random.Random) -> bytes:
    """One fuzzed datagram: a real message mutated, or one with values never seen."""
    how = rng.randrange(8)
    if how >= 6:  # unique values, small or 20 KB large
        return varied(rng, large=how == 7)
    data = bytearray(rng.choice(SEEDS))
    if how == 0:  # bytes flipped
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif how == 1:  # cut short
        del data[rng.randrange(len(data)) :]
    elif how == 2:  # a header line doubled or emptied
        lines = bytes(data).split(b"\r\n")
        i = rng.randrange(1, max(2, len(lines) - 2))
        lines[i] = (
            lines[i] + b"\r\n" + lines[i] if rng.random() < 0.5 else lines[i].split(b":")[0] + b":"
        )
        data = bytearray(b"\r\n".join(lines))
    elif how == 3:  # garbage
        data = bytearray(rng.randbytes(rng.randint(0, 1400)))
    elif how == 4:  # a huge header value
        data = data.replace(b"Max-Forwards: 70", b"Max-Forwards: " + b"9" * rng.randint(10, 4000))
    else:  # a Content-Length that lies
        data = data.replace(
            b"Content-Length: 0", f"Content-Length: {rng.randint(-5, 99999)}".encode()
        )
    return bytes(data)


ENDPOINT_GROWTH_MB = 20  # the endpoint's memory after the flood, within this of before


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


@dataclass
class FuzzResult:
    datagrams: int
    seconds: float
    endpoint_answers: bool
    proxy_answers: bool
    site_answers: bool
    still_registered: bool
    site_rss_kb: tuple[int, int]  # before, after
    proxy_rss_kb: tuple[int, int]
    endpoint_rss_kb: tuple[int, int]  # this process (the endpoint runs in it)
    endpoint_sessions: int
    endpoint_transactions: int
    endpoint_held: int  # characters its quiet server transactions hold (layer.QUIET_HELD)

    @property
    def serving(self) -> bool:
        return (self.endpoint_answers and self.proxy_answers and self.site_answers
                and self.still_registered)  # fmt: skip


async def fuzz(datagrams: int, seed: int = 1, *, rate: int = 20_000) -> FuzzResult:
    """Send ``datagrams`` fuzzed datagrams, a third each to the endpoint, to site a's
    proxy and to site a, at most ``rate`` per second (bounded in count and time)."""
    rng = random.Random(seed)
    async with Lab(LabConfig(sites=["a", "b"], backend="embedded", seed=seed)) as lab:
        config = EndpointConfig(connections=[
            ConnectionConfig(id=i, user="5001", server=lab.target(n)[0], port=lab.target(n)[1],
                             domain=lab.site(n).spec.domain, reg_interval=300)
            for i, n in enumerate(("a", "b"))
        ])  # fmt: skip
        phone = AsyncPhone(config)
        registered = asyncio.Event()

        def on_event(_: object) -> None:
            if phone.core and all(c.status == "Available" for c in phone.connections.values()):
                registered.set()

        phone.subscribe(on_event)
        async with phone:
            await asyncio.wait_for(registered.wait(), 10)
            site_pid = lab.site("a").pid  # type: ignore[attr-defined]
            proxy_pid = lab.faults_server.pid if lab.faults_server else None
            assert site_pid is not None and proxy_pid is not None
            before = (rss_kb(site_pid), rss_kb(proxy_pid), rss_kb(os.getpid()))
            targets = [phone.local_address, lab.target("a"), lab.site("a").address]
            started = time.perf_counter()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.setblocking(False)
                for i in range(datagrams):
                    try:
                        sock.sendto(mutate(rng), targets[i % 3])
                    except OSError:
                        pass  # a full buffer: that datagram is lost, as on a wire
                    if i % 200 == 199:
                        await asyncio.sleep(200 / rate)  # the loop serves what arrived
            took = time.perf_counter() - started
            await asyncio.sleep(0.5)  # the last ones handled
            host, port = phone.local_address
            endpoint_ok = await options_ping(host, port) is not None
            proxy_ok = await options_ping(*lab.target("a")) == 200
            site_ok = await options_ping(*lab.site("a").address) == 200
            still = all(c.status == "Available" for c in phone.connections.values())
            after = (rss_kb(site_pid), rss_kb(proxy_pid), rss_kb(os.getpid()))
            return FuzzResult(
                datagrams, took, endpoint_ok, proxy_ok, site_ok, still,
                (before[0], after[0]), (before[1], after[1]), (before[2], after[2]),
                len(phone.phone.calls.sessions), len(phone.phone.layer.transactions),
                phone.phone.layer.quiet_held,
            )  # fmt: skip


def main(datagrams: int = 100_000, seed: int = 1) -> int:
    logging.getLogger("endpoint").setLevel(logging.ERROR)  # each dropped datagram is logged
    result = asyncio.run(fuzz(datagrams, seed))
    print(f"{result.datagrams} fuzzed datagrams in {result.seconds:.1f} s "
          f"(a third each to the endpoint, site a's proxy and site a)")  # fmt: skip
    print(
        f"still answering: endpoint {result.endpoint_answers}, proxy {result.proxy_answers}, "
        f"site {result.site_answers}; both connections registered: {result.still_registered}"
    )
    for name, (b, a) in (("site", result.site_rss_kb), ("fault proxy", result.proxy_rss_kb),
                         ("endpoint (this process)", result.endpoint_rss_kb)):  # fmt: skip
        print(f"{name} RSS: {b / 1024:.1f} MB before, {a / 1024:.1f} MB after")
    before, after = result.endpoint_rss_kb
    grew = (after - before) / 1024
    print(f"endpoint RSS grew {grew:.1f} MB (bound {ENDPOINT_GROWTH_MB} MB)")
    print(
        f"endpoint state after: {result.endpoint_sessions} sessions, "
        f"{result.endpoint_transactions} transactions"
    )
    return 0 if result.serving and grew <= ENDPOINT_GROWTH_MB else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--datagrams", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    ns = parser.parse_args()
    raise SystemExit(main(ns.datagrams, ns.seed))
