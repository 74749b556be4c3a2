"""``geolab bench dns``: how fast geolab's phone follows what DNS says, on real sockets
(embedded or Kamailio sites behind the fault proxy, the lab's DNS server):

- time to the next SRV target: the name's primary site is killed; over UDP the renewal to
  it times out (transaction_timeout, 1 s here) and the REGISTER goes to the next target,
  counted from the renewal's first send (so the figure is the timeout plus what the phone
  adds); over TCP, from the kill (the refused connect is the sign);
- time to follow a DNS flip, as a function of the TTL: the name's only site is dead, the
  connection Unavailable and retrying every second; the records are flipped to site B just
  after a retry has fetched them (the worst phase: they are held a whole TTL); counted from
  the flip to Available (bounded by TTL + retry_interval + one round trip).
"""

from __future__ import annotations

import asyncio
import statistics

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from endpoint.core.rfc3263 import DnsAnswer
from endpoint.sip.events import Address
from endpoint.sip.message import Message, Request
from lab.dns.spec import DnsSpec
from lab.labs.interface import LabConfig
from lab.real.lab import Lab

NAME = "sip.geolab.test"


def _spec(ttl: int, sites: list[str]) -> DnsSpec:
    targets = [{"site": s, "priority": 10 * (i + 1)} for i, s in enumerate(sites)]
    return DnsSpec.model_validate({"ttl": ttl, "names": {NAME: {"targets": targets}}})


async def _phone(lab: Lab, transport: str, **settings: float) -> AsyncPhone:
    conn = ConnectionConfig(id=0, user="5001", server=NAME, port=5060, protocol=transport,
                            **settings)  # type: ignore[arg-type]  # fmt: skip
    return AsyncPhone(EndpointConfig(connections=[conn], dns_server=lab.dns_server()))


def _available(e: PhoneEvent) -> bool:
    return isinstance(e, ConnectionStatusChanged) and e.status is ConnectionStatus.AVAILABLE


def _unavailable(e: PhoneEvent) -> bool:
    return isinstance(e, ConnectionStatusChanged) and e.status is ConnectionStatus.UNAVAILABLE


async def next_target(transport: str, backend: str) -> float:
    """Seconds from the sign of the dead primary to the REGISTER to the next target."""
    config = LabConfig(sites=["a", "b"], backend=backend, dns=_spec(300, ["a", "b"]),
                       transports=frozenset({transport}))  # fmt: skip
    async with Lab(config) as lab:
        where = {lab.target(s, transport): s for s in ("a", "b")}
        sent: list[tuple[float, str]] = []
        reached_b = asyncio.Event()
        phone = await _phone(lab, transport, reg_interval=2, transaction_timeout=1,
                             retry_interval=5)  # fmt: skip

        def tap(direction: str, message: Message, peer: Address, _: str) -> None:
            if direction == "out" and isinstance(message, Request) and message.method == "REGISTER":
                sent.append((lab.now, where.get(peer, "?")))
                if sent[-1][1] == "b":
                    reached_b.set()

        phone.taps.append(tap)
        async with phone:
            await phone.wait_for(_available, 5)
            mark = len(sent)
            reached_b.clear()
            killed = lab.now
            await lab.apply("kill", "a")
            await asyncio.wait_for(reached_b.wait(), 10)
            to_b = next(t for t, s in sent[mark:] if s == "b")
            if transport == "udp":
                to_a = next(t for t, s in sent[mark:] if s == "a")
                return to_b - to_a
            return to_b - killed


async def follow_flip(ttl: int, backend: str) -> float:
    """Seconds from the flip of the dead site's name to Available on the other site."""
    async with Lab(LabConfig(sites=["a", "b"], backend=backend, dns=_spec(ttl, ["a"]),
                             transports=frozenset({"udp"}))) as lab:  # fmt: skip
        phone = await _phone(lab, "udp", reg_interval=2, transaction_timeout=1,
                             retry_interval=1)  # fmt: skip
        async with phone:
            await phone.wait_for(_available, 5)
            await lab.apply("kill", "a")
            since = len(phone.history)
            await phone.wait_for(_unavailable, 5, since=since)
            assert lab.dns is not None
            zone, asked = lab.dns.zone, asyncio.Event()
            answer = zone.answer

            def noted(name: str, rtype: str) -> DnsAnswer | None:
                asked.set()
                return answer(name, rtype)

            zone.answer = noted  # type: ignore[method-assign]
            await asyncio.wait_for(asked.wait(), 5)  # a retry has just fetched the records
            await asyncio.sleep(0.05)  # (its questions all answered)
            since = len(phone.history)
            flipped = lab.now
            await lab.apply("dns_change", "a", to="b", ttl=ttl)
            await phone.wait_for(_available, ttl + 5, since=since)
            return lab.now - flipped


def main(trials: int = 5, backend: str = "embedded") -> int:
    print(f"DNS (RFC 3263) on {backend} sites behind the fault proxy, {trials} trials each, "
          "median (min-max)")  # fmt: skip
    for transport in ("udp", "tcp"):
        times = [asyncio.run(next_target(transport, backend)) for _ in range(trials)]
        since = ("the renewal's first send (transaction_timeout 1 s)" if transport == "udp"
                 else "the kill (refused connect)")  # fmt: skip
        print(f"time to the next SRV target, {transport.upper()}: "
              f"{statistics.median(times) * 1000:.1f} ms ({min(times) * 1000:.1f}-"
              f"{max(times) * 1000:.1f}) from {since}")  # fmt: skip
    for ttl in (1, 2, 4):
        times = [asyncio.run(follow_flip(ttl, backend)) for _ in range(trials)]
        print(f"time to follow a DNS flip, TTL {ttl} s (a retry every 2 s: transaction "
              "timeout 1 s + retry_interval 1 s): "
              f"{statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})")
    return 0
