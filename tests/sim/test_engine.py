"""The discrete-event engine drives the same cores as the asyncio virtual-time loop: the
same drill gives the same traffic and the same status changes on both; a storm split into
shards adds up to the storm run in one, whatever the number of processes."""

from __future__ import annotations

import pytest

from bench.sim import day_on_engine, day_on_loop
from endpoint.config import ConnectionSettings
from lab.fleet.meter import FleetPlan
from lab.sim.loop import run
from lab.sim.schedule import Engine
from lab.sim.storm import simulate_fleet


def test_engine_runs_callbacks_in_time_order_and_ties_in_the_order_scheduled() -> None:
    engine = Engine()
    ran: list[tuple[float, str]] = []

    def note(name: str, then: tuple[float, str] | None = None) -> None:
        ran.append((engine.now, name))
        if then is not None:  # schedule another from within a callback
            engine.call_at(then[0], note, then[1])

    engine.call_at(2.0, note, "b1", (2.0, "b3"))  # due at the very time being run
    engine.call_at(1.0, note, "a")
    engine.call_later(2.0, note, "b2", (2.0, "b4"))
    engine.call_at(3.0, note, "c")
    engine.run_until(2.5)
    assert ran == [(1.0, "a"), (2.0, "b1"), (2.0, "b2"), (2.0, "b3"), (2.0, "b4")]
    assert engine.now == 2.5 and engine.steps == 5
    engine.run_until(10.0)
    assert ran[-1] == (3.0, "c") and engine.now == 10.0


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


def test_a_storm_split_into_shards_adds_up() -> None:
    plan = FleetPlan(
        300, settings=ConnectionSettings(reg_interval=60, retry_interval=10, transaction_timeout=4),
        outage_at=30, outage_for=70, settle=60, duration=200, boot=30, seed=2,
    )  # fmt: skip
    whole, whole_totals = simulate_fleet(plan, shard_size=1000)  # one shard
    split, split_totals = simulate_fleet(plan, workers=1, shard_size=100)  # three, in turn
    assert whole.unrecovered == split.unrecovered == 0
    assert len(whole.recovery) == len(split.recovery) == 300
    # endpoints draw their randomness by index, so each does the same thing either way
    assert whole_totals.messages == split_totals.messages
    assert sum(whole.load["a"].values()) == sum(split.load["a"].values())
    assert abs(whole.percentile(0.5) - split.percentile(0.5)) < 0.05
    assert 0 <= whole.percentile(0.99) <= plan.settings.retry_interval + plan.settings.transaction_timeout
    # the shards follow from the size alone: two processes give the very same storm
    parallel, _ = simulate_fleet(plan, workers=2, shard_size=100)
    assert parallel.summary() == split.summary() and parallel.load == split.load


def test_a_shard_starts_with_the_parsers_caches_empty() -> None:
    """Each shard's users are its own: it does not inherit the last one's cached values."""
    from endpoint.sip.values import NAME_ADDR_CACHE, clear_parse_caches
    from lab.sim.storm import run_shard

    plan = FleetPlan(
        40, settings=ConnectionSettings(reg_interval=60, retry_interval=10, transaction_timeout=4),
        outage_at=30, outage_for=30, settle=30, duration=120, boot=10, seed=5,
    )  # fmt: skip
    clear_parse_caches()
    run_shard(plan, 1, 2)
    alone = len(NAME_ADDR_CACHE)
    run_shard(plan, 0, 2)
    assert len(NAME_ADDR_CACHE) > 0
    run_shard(plan, 1, 2)  # after shard 0: holds what shard 1 alone held, no more
    assert len(NAME_ADDR_CACHE) == alone > 0
