"""A fleet scenario on the runner's lab: the storm, then the fleet's verdicts.

The stream gets the lab's events (the outage, applied and healed), one ``fleet`` event
with the measured storm (percentiles, histogram, REGISTER load per site per second), and
one expectation per verdict of ``fleet.expect``."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from typing import TYPE_CHECKING

from lab.fleet import run_fleet
from lab.fleetmeter import FleetPlan, FleetResult
from lab.run.events import Expectation
from lab.scenario.expr import seconds
from lab.scenario.schema import FLEET_BOUNDS, FleetSpec
from lab.sim.lab import SimLab
from lab.sim.storm import simulate_fleet

if TYPE_CHECKING:
    from lab.run.runner import ScenarioRunner


async def run_fleet_drill(runner: ScenarioRunner, fleet: FleetSpec) -> None:
    assert runner.lab is not None
    size = fleet.size(runner.s.mode)
    runner.emit(
        "step_start", index=0, id="fleet", action="fleet", line=runner.s.lines.get("fleet", 0),
        note=f"{size} endpoints x {len(runner.s.topology.sites)} connections; "
        f"{fleet.outage.kind} site {fleet.outage.site}",
    )  # fmt: skip
    plan = plan_of(runner, fleet, size)
    if isinstance(runner.lab, SimLab):
        result = await simulated(runner, plan, fleet.workers)
    else:
        result = await run_fleet(runner.lab, plan, t0=runner.t0, workers=fleet.workers)
    runner.emit("fleet", event="fleet_result", declared=fleet.endpoints, **result.to_json())
    runner.emit("step_end", index=0, id="fleet", action="fleet")
    for exp in verdicts(runner, fleet, result):
        runner.record(exp)


def plan_of(runner: ScenarioRunner, fleet: FleetSpec, size: int) -> FleetPlan:
    """The scenario's fleet, its bounds worked out."""
    env = runner.env
    return FleetPlan(
        endpoints=size,
        sites=tuple(runner.s.topology.sites),
        outage_site=fleet.outage.site,
        outage_kind=fleet.outage.kind,
        reg_interval=fleet.reg_interval,
        retry_interval=fleet.retry_interval,
        transaction_timeout=fleet.transaction_timeout,
        outage_at=seconds(fleet.outage.at, env),
        outage_for=seconds(fleet.outage.for_, env),
        settle=seconds(fleet.settle, env),
        duration=seconds(fleet.duration, env) if fleet.duration is not None else None,
        boot=seconds(fleet.boot, env),
        seed=runner.seed,
    )


async def simulated(runner: ScenarioRunner, plan: FleetPlan, workers: int) -> FleetResult:
    """The storm on the discrete-event engine (its shards run ``workers`` at a time); its
    outage goes on the stream at the times it happened, and the run's clock catches up."""
    start = runner.now()
    result, totals = simulate_fleet(plan, workers)
    via = "process" if plan.outage_kind in ("kill", "stop", "hang") else "network"
    fault = {"id": 1, "kind": plan.outage_kind, "site": plan.outage_site, "via": via}
    if plan.outage_kind in ("kill", "stop"):
        runner.emit_at(start + plan.outage_at, "lab", event="site_down", site=plan.outage_site)
    runner.emit_at(start + plan.outage_at, "lab", event="fault_applied", **fault)
    if plan.outage_kind in ("kill", "stop"):
        runner.emit_at(start + result.back_at, "lab", event="site_up", site=plan.outage_site)
    runner.emit_at(start + result.back_at, "lab", event="fault_healed", **fault)
    await asyncio.sleep(totals.virtual)  # virtual time: the run's clock catches up at once
    shift = round(start)
    result.back_at += start
    result.load = {
        s: Counter({sec + shift: n for sec, n in c.items()}) for s, c in result.load.items()
    }
    return result


def verdicts(runner: ScenarioRunner, fleet: FleetSpec, result: FleetResult) -> list[Expectation]:
    want = fleet.expect
    lines = runner.s.lines
    t = runner.now()

    def line(key: str) -> int:
        return lines.get(f"fleet.expect.{key}", lines.get("fleet.expect", lines.get("fleet", 0)))

    out = [
        Expectation(
            None, line("unrecovered_at_most"),
            f"at most {want.unrecovered_at_most} of {result.endpoints} endpoints still not "
            f"registered on site {result.outage_site} again after the settle time",
            result.unrecovered <= want.unrecovered_at_most,
            f"{result.unrecovered} not recovered", t,
        )
    ]  # fmt: skip
    for key in FLEET_BOUNDS:
        bound = getattr(want, f"{key}_within")
        if bound is None:
            continue
        limit = seconds(bound, runner.env)
        value = result.summary()[key]
        ok = not math.isnan(value) and value <= limit  # no recovery at all fails
        out.append(
            Expectation(
                None, line(f"{key}_within"),
                f"{key} of the recovery times within {limit:.3f}s of the site's return",
                ok, f"{key} {value:.3f}s over {len(result.recovery)} endpoints", t,
            )
        )  # fmt: skip
    for site, most in want.peak_register_per_s_at_most.items():
        peak = result.peak(site)
        out.append(
            Expectation(
                None, line("peak_register_per_s_at_most"),
                f"at most {most} REGISTER/s at site {site}", peak <= most,
                f"peak {peak} REGISTER/s", t,
            )
        )  # fmt: skip
    return out
