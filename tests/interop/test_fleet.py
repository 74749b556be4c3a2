"""PhoneFleet: many phones on one socket, against real sites."""

from __future__ import annotations

import asyncio
import gc
import socket
from collections import Counter, defaultdict
from collections.abc import Callable

import pytest

from endpoint.aio.fleet import PhoneFleet, collector_paused
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from endpoint.sip.events import Address
from endpoint.sip.message import Message, Response
from endpoint.sip.parser import parse_message
from lab.sites.process import ProcessSite

pytestmark = pytest.mark.interop
Factory = Callable[..., ProcessSite]
C = ConnectionStatus


def fleet_configs(
    sites: tuple[ProcessSite, ...], count: int, first_user: int = 700000, **kw: object
) -> list[EndpointConfig]:
    return [
        EndpointConfig(
            connections=[
                ConnectionConfig(
                    id=c,
                    user=str(first_user + i),
                    server=s.spec.ip,
                    port=s.spec.port,
                    domain=s.spec.domain,
                    **kw,  # type: ignore[arg-type]
                )
                for c, s in enumerate(sites)
            ]
        )
        for i in range(count)
    ]


class Watch:
    """Status events per (phone, connection) and the wire, with awaitable conditions."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[int, int], list[ConnectionStatus]] = defaultdict(list)
        self.answers: list[tuple[int, Message]] = []  # (phone, answer it was handed)
        self.registers: Counter[int] = Counter()  # phone -> REGISTERs sent
        self.changed = asyncio.Event()

    def on_event(self, phone: int, event: PhoneEvent) -> None:
        if isinstance(event, ConnectionStatusChanged):
            self.statuses[(phone, event.connection)].append(event.status)
            self.changed.set()

    def tap(self, phone: int, direction: str, message: Message, peer: Address) -> None:
        if direction == "in" and isinstance(message, Response):
            self.answers.append((phone, message))
        elif direction == "out" and getattr(message, "method", None) == "REGISTER":
            self.registers[phone] += 1
            self.changed.set()

    def last(self, phone: int, conn: int) -> ConnectionStatus | None:
        seen = self.statuses.get((phone, conn))
        return seen[-1] if seen else None

    async def until(self, condition: Callable[[], bool], timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self.changed.clear()
                await self.changed.wait()


def test_every_phone_registers_on_both_sites_and_renews_on_time(any_site: Factory) -> None:
    a, b = any_site("a"), any_site("b")
    count = 60
    watch = Watch()

    async def main() -> None:
        configs = fleet_configs((a, b), count, reg_interval=1.0)
        async with PhoneFleet(configs, on_event=watch.on_event, tap=watch.tap) as fleet:
            fleet.start_all()
            await watch.until(
                lambda: all(watch.last(p, c) is C.AVAILABLE for p in range(count) for c in (0, 1)),
                10,
            )
            # one timer heap serves every phone: each renews both registrations within
            # its reg_interval (1 s), answered on its own connection
            await watch.until(lambda: all(watch.registers[p] >= 4 for p in range(count)), 5)
            assert fleet.rejected == 0 and fleet.unrouted == 0
        for phone, answer in watch.answers:  # every answer reached the phone that asked
            user = answer.headers.get("To", "").split("@")[0].split(":")[-1]
            assert user == str(700000 + phone)
        assert all(
            watch.statuses[(p, c)] == [C.REGISTERING, C.AVAILABLE]
            for p in range(count)
            for c in (0, 1)
        )

    asyncio.run(main())


def test_a_killed_site_makes_every_phone_unavailable_there_until_it_returns(
    any_site: Factory,
) -> None:
    a, b = any_site("a"), any_site("b")
    count = 40
    watch = Watch()

    async def main() -> None:
        configs = fleet_configs(
            (a, b), count, reg_interval=1.0, retry_interval=0.5, transaction_timeout=1.0
        )
        async with PhoneFleet(configs, on_event=watch.on_event, tap=watch.tap) as fleet:
            fleet.start_all()
            await watch.until(
                lambda: all(watch.last(p, c) is C.AVAILABLE for p in range(count) for c in (0, 1)),
                10,
            )
            await a.kill()
            # the next renewal (≤ 1 s) times out (1 s): bound 1 + 1 + slack
            await watch.until(
                lambda: all(watch.last(p, 0) is C.UNAVAILABLE for p in range(count)), 4
            )
            await a.start()
            # a retry every 0.5 s, each ≤ 1 s: bound 0.5 + 1 + slack
            await watch.until(lambda: all(watch.last(p, 0) is C.AVAILABLE for p in range(count)), 4)
        for p in range(count):
            assert watch.statuses[(p, 0)] == [
                C.REGISTERING,
                C.AVAILABLE,
                C.UNAVAILABLE,
                C.AVAILABLE,
            ]
            assert watch.statuses[(p, 1)] == [C.REGISTERING, C.AVAILABLE]

    asyncio.run(main())


def test_a_fleets_registrations_renewals_and_timeouts_leave_no_cyclic_garbage(
    any_site: Factory,
) -> None:
    """What lets a fleet pause Python's cyclic collector for a storm (``collector_paused``,
    as fleet drills and the fleet benchmark run): everything its phones leave behind while
    registering, renewing, timing out on a killed site and registering there again is
    freed by reference counting alone. (What the lab leaves when it starts a site, its
    readiness probe, is collected unseen before the fleet's part is looked at.)"""
    a, b = any_site("a"), any_site("b")
    count = 30
    watch = Watch()
    found: list[int] = []

    async def main() -> None:
        configs = fleet_configs(
            (a, b), count, reg_interval=0.5, retry_interval=0.3, transaction_timeout=0.6
        )
        async with PhoneFleet(configs, on_event=watch.on_event, tap=watch.tap) as fleet:
            fleet.prepare()
            with collector_paused():
                assert not gc.isenabled()
                fleet.start_all()
                await watch.until(lambda: all(watch.registers[p] >= 3 for p in range(count)), 10)
                found.append(gc.collect())  # what the paused collector would have found
                await a.kill()
                await watch.until(
                    lambda: all(watch.last(p, 0) is C.UNAVAILABLE for p in range(count)), 4
                )
                found.append(gc.collect())
                await a.start()
                gc.collect()  # the lab's, not the fleet's
                await watch.until(
                    lambda: all(watch.last(p, 0) is C.AVAILABLE for p in range(count)), 4
                )
                found.append(gc.collect())
            assert gc.isenabled()

    asyncio.run(main())
    assert found == [0, 0, 0]


def test_bad_datagrams_are_dropped_and_requests_find_their_phone(any_site: Factory) -> None:
    a = any_site("a")
    watch = Watch()

    async def main() -> None:
        configs = fleet_configs((a,), 3, reg_interval=3600)
        async with PhoneFleet(configs, on_event=watch.on_event, tap=watch.tap) as fleet:
            fleet.start_all()
            await watch.until(lambda: all(watch.last(p, 0) is C.AVAILABLE for p in range(3)), 5)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.bind(("127.0.0.1", 0))
                peer.settimeout(5)
                port = peer.getsockname()[1]
                dest = (fleet.host, fleet.port)
                loop = asyncio.get_running_loop()

                def options(user: str, branch: str) -> bytes:
                    return (
                        f"OPTIONS sip:{user}@{fleet.host}:{fleet.port} SIP/2.0\r\n"
                        f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
                        "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=p1\r\n"
                        f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: probe-{branch}\r\n"
                        "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                    ).encode()

                def answer(method: str, user: str, branch: str) -> bytes:
                    return (
                        "SIP/2.0 200 OK\r\n"
                        f"Via: SIP/2.0/UDP {fleet.host}:{fleet.port};branch=z9hG4bK{branch}\r\n"
                        f"From: <sip:{user}@a.geolab.test>;tag=f1\r\n"
                        f"To: <sip:{user}@a.geolab.test>;tag=t1\r\nCall-ID: stray-{branch}\r\n"
                        f"CSeq: 9 {method}\r\nContent-Length: 0\r\n\r\n"
                    ).encode()

                peer.sendto(b"REGISTER sip:x SIP/2.0\r\nVia: broken\r\n\r\n", dest)
                peer.sendto(options("nobody", "n1"), dest)
                # answers nobody asked for: a REGISTER's for a user of no phone here, and
                # another's whose branch no phone's request carried
                peer.sendto(answer("REGISTER", "nobody", "s1"), dest)
                peer.sendto(answer("OPTIONS", "700001", "s2"), dest)
                peer.sendto(options("700001", "k1"), dest)
                data = await loop.run_in_executor(None, peer.recv, 65535)
            answer_ = parse_message(data)
            assert isinstance(answer_, Response) and answer_.status == 200
            assert answer_.headers.get("Call-ID") == "probe-k1"  # phone 700001 answered
            assert fleet.rejected == 1 and fleet.unrouted == 3
            assert all(watch.last(p, 0) is C.AVAILABLE for p in range(3))

    asyncio.run(main())


def test_a_fleet_refuses_tcp_and_shared_users_and_lets_its_socket_go() -> None:
    udp = ConnectionConfig(id=0, user="1", server="127.0.0.1")
    with pytest.raises(ValueError, match="UDP"):
        PhoneFleet([EndpointConfig(connections=[udp.model_copy(update={"protocol": "tcp"})])])
    with pytest.raises(ValueError, match="share the user"):
        PhoneFleet([EndpointConfig(connections=[udp])] * 2)

    with pytest.raises(RuntimeError, match="open the fleet"):
        PhoneFleet([EndpointConfig(connections=[udp])]).prepare()  # its port is not known yet

    async def main() -> None:
        fleet = await PhoneFleet([EndpointConfig(connections=[udp])]).open()
        sock = fleet._sock
        assert sock is not None and sock.fileno() >= 0
        await fleet.close()
        assert sock.fileno() == -1

    asyncio.run(main())


def test_one_phones_far_deadline_does_not_delay_anothers_near_one(any_site: Factory) -> None:
    """Phone 0 registers, its next deadline its renewal 2 s away; phone 1's site is silent,
    so its REGISTER is due again T1 (0.1 s) after it went out, then 0.2 s after that: the
    fleet's one timer heap serves phone 1 on time, not at phone 0's renewal."""
    a = any_site("a")
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # takes datagrams, answers none
    silent.bind(("127.0.0.1", 0))
    configs = [
        EndpointConfig(connections=[ConnectionConfig(id=0, user="800001", server=a.spec.ip,
            port=a.spec.port, domain=a.spec.domain, reg_interval=2.0)]),
        EndpointConfig(connections=[ConnectionConfig(id=0, user="800002", server="127.0.0.1",
            port=silent.getsockname()[1], transaction_timeout=6.4)]),  # T1 = 0.1 s
    ]  # fmt: skip
    watch = Watch()
    sent: dict[int, list[float]] = defaultdict(list)  # phone -> times its REGISTERs went out

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def tap(phone: int, direction: str, message: Message, peer: Address) -> None:
            watch.tap(phone, direction, message, peer)
            if direction == "out" and getattr(message, "method", None) == "REGISTER":
                sent[phone].append(loop.time())

        async with PhoneFleet(configs, on_event=watch.on_event, tap=tap) as fleet:
            fleet.start(0)
            await watch.until(lambda: watch.last(0, 0) is C.AVAILABLE, 5)
            fleet.start(1)
            await watch.until(lambda: watch.registers[1] >= 3, 3)
            first, again, third = sent[1][:3]
            assert again - first < 0.1 + 0.25 and third - again < 0.2 + 0.25
            assert len(sent[0]) == 1  # phone 0's renewal is not due yet

    try:
        asyncio.run(main())
    finally:
        silent.close()
