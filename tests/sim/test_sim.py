"""The endpoint's own code on a simulated network in virtual time: a day in well under a
second, the same seed giving the same events."""

from __future__ import annotations

import asyncio
import functools
import time
from pathlib import Path

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged, PhoneEvent
from lab.errors import SimulationStalled
from lab.sim.loop import run
from lab.sim.network import Link, SimNetwork, SimSockets
from lab.sim.site import SimSite
from lab.sites.base import SiteSpec

A, B = ("10.1.0.1", 5060), ("10.2.0.1", 5060)


def test_virtual_time_jumps_to_the_next_timer() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        order: list[tuple[str, float]] = []

        async def wait(delay: float, tag: str) -> None:
            await asyncio.sleep(delay)
            order.append((tag, loop.time()))

        await asyncio.gather(wait(3600, "hour"), wait(1.5, "soon"), wait(86400, "day"))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.sleep(20)
        order.append(("timeout", loop.time()))
        return order

    started = time.perf_counter()
    assert run(main()) == [("soon", 1.5), ("hour", 3600.0), ("day", 86400.0), ("timeout", 86410.0)]
    assert time.perf_counter() - started < 0.5


def test_a_stalled_simulation_is_an_error_not_a_hang() -> None:
    async def main() -> None:
        await asyncio.get_running_loop().create_future()  # nobody will ever resolve it

    with pytest.raises(SimulationStalled):
        run(main())


def day_with_a_dead_site(seed: int) -> list[PhoneEvent]:
    async def main() -> list[PhoneEvent]:
        net = SimNetwork(seed)
        net.default = Link(latency=0.005, jitter=0.002)
        sites = [
            SimSite(SiteSpec(name=n, ip=addr[0], port=addr[1]), net)
            for n, addr in (("a", A), ("b", B))
        ]
        for site in sites:
            await site.start()
        cfg = EndpointConfig(
            local_host="10.9.0.1",
            local_port=5060,
            connections=[
                ConnectionConfig(id=i, user="5001", server=addr[0], port=addr[1], retry_interval=60)
                for i, addr in enumerate((A, B))
            ],
        )
        phone = AsyncPhone(cfg, sockets=functools.partial(SimSockets, net))
        await phone.start()
        await asyncio.sleep(5000)
        await sites[0].kill()
        await asyncio.sleep(10000)
        await sites[0].start()
        await asyncio.sleep(86400 - 15000)
        await phone.close(unregister=False)
        return phone.history

    return run(main())


def test_a_day_of_registrations_in_virtual_time() -> None:
    started = time.perf_counter()
    events = day_with_a_dead_site(seed=1)
    wall = time.perf_counter() - started
    assert wall < 5.0
    conn0 = [
        (e.status, e.t)
        for e in events
        if isinstance(e, ConnectionStatusChanged) and e.connection == 0
    ]
    statuses = [s for s, _ in conn0]
    assert statuses == [
        ConnectionStatus.REGISTERING,
        ConnectionStatus.AVAILABLE,
        ConnectionStatus.UNAVAILABLE,
        ConnectionStatus.AVAILABLE,
    ]
    # killed at 5000 s; found dead by the renewal at 7200 s after 64*T1 = 32 s
    assert conn0[2][1] == pytest.approx(7200 + 32, abs=0.1)
    # back at 15000 s; the next retry (every 60 s after the failure) finds it
    assert 15000 <= conn0[3][1] <= 15000 + 60 + 1
    conn1 = [e for e in events if isinstance(e, ConnectionStatusChanged) and e.connection == 1]
    assert [e.status for e in conn1] == [ConnectionStatus.REGISTERING, ConnectionStatus.AVAILABLE]


def test_same_seed_same_events_other_seed_other_timings() -> None:
    first, again, other = day_with_a_dead_site(7), day_with_a_dead_site(7), day_with_a_dead_site(8)
    assert [repr(e) for e in first] == [repr(e) for e in again]
    assert [e.t for e in first] != [e.t for e in other]  # jitter comes from the seed


def test_open_binds_without_registering_and_start_registers() -> None:
    async def main() -> tuple[int, bool, int]:
        network = SimNetwork(seed=1)
        site = SimSite(SiteSpec(name="a", ip=A[0]), network)
        await site.start()
        config = EndpointConfig(
            local_host="10.200.0.9",
            local_port=5060,
            connections=[
                ConnectionConfig(id=0, user="5001", server=A[0], port=A[1], reg_interval=60)
            ],
        )
        phone = AsyncPhone(config, sockets=functools.partial(SimSockets, network))
        await phone.open()
        before = network.sent
        attached = ("10.200.0.9", 5060) in network.nodes
        await phone.start()
        await phone.wait_for(lambda e: isinstance(e, ConnectionStatusChanged), 5)
        after = network.sent
        await phone.close(unregister=False)
        return before, attached, after

    before, attached, after = run(main())
    assert before == 0 and attached  # bound, nothing sent
    assert after >= 1  # start() registered (and opened nothing twice)


def test_a_simulated_lab_removes_the_folder_it_made_and_keeps_one_it_was_given(
    tmp_path: Path,
) -> None:
    from lab.labs.interface import LabConfig
    from lab.sim.lab import SimLab

    async def lifetime(config: LabConfig) -> Path:
        lab = SimLab(config)
        await lab.start()
        (lab.workdir / "parties").mkdir()  # as the runner's parties use it
        await lab.stop()
        return lab.workdir

    made = run(lifetime(LabConfig(sites=["a"])))
    assert made.name.startswith("geolab-sim-") and not made.exists()
    given = run(lifetime(LabConfig(sites=["a"], workdir=tmp_path / "mine")))
    assert given == tmp_path / "mine" and (given / "parties").is_dir()
