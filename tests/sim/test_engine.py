"""The discrete-event engine drives the same cores as the asyncio virtual-time loop: the
same drill gives the same traffic and the same status changes on both; a storm split over
processes adds up to the storm run in one."""

from __future__ import annotations

import pytest

from bench.sim import day_on_engine, day_on_loop
from lab.sim.loop import run
from lab.sim.storm import FleetPlan, simulate_fleet


@pytest.mark.parametrize("wire", ["bytes", "objects"])
def test_engine_and_loop_agree_on_a_flapping_site(wire: str) -> None:
    hours = 2 * 3600.0
    on_engine, messages, steps = day_on_engine(seed=3, wire=wire, length=hours)  # type: ignore[arg-type]
    on_loop, loop_messages = run(day_on_loop(seed=3, wire=wire, length=hours))  # type: ignore[arg-type]
    # keep-alive every 5 s on two connections for two hours, minus what a down site skips
    assert 1500 < on_engine.transactions < 2 * hours / 5
    assert on_engine.transactions == on_loop.transactions
    assert messages == loop_messages and steps > messages
    # site A went down and up every 10 minutes: connection 0 flapped, connection 1 did not
    flaps = [s for c, s in on_engine.statuses if c == 0]
    assert flaps.count("Unavailable") == 6 and flaps.count("Available") >= 6
    assert all(s == "Available" for c, s in on_engine.statuses if c == 1 and s != "Registering")
    assert on_engine.statuses == on_loop.statuses


def test_a_storm_split_over_processes_adds_up() -> None:
    plan = FleetPlan(
        200, reg_interval=60, retry_interval=10, transaction_timeout=4,
        outage_at=30, outage_for=70, settle=60, duration=200, boot=30, seed=2,
    )  # fmt: skip
    one, one_totals = simulate_fleet(plan, workers=1)
    two, two_totals = simulate_fleet(plan, workers=2)
    assert one.unrecovered == two.unrecovered == 0
    assert len(one.recovery) == len(two.recovery) == 200
    # endpoints draw their randomness by index, so each does the same thing in either run
    assert one_totals.messages == two_totals.messages
    assert sum(one.load["a"].values()) == sum(two.load["a"].values())
    assert abs(one.percentile(0.5) - two.percentile(0.5)) < 0.05
    assert 0 <= one.percentile(0.99) <= plan.retry_interval + plan.transaction_timeout
    again, _ = simulate_fleet(plan, workers=2)
    assert again.summary() == two.summary()  # same seed, same workers: the same storm
