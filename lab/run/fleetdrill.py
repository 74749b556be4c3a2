"""A fleet scenario on the runner's lab: the storm, then the fleet's verdicts.

The stream gets the lab's events (the outage, applied and healed), one ``fleet`` event
with the measured storm (percentiles, histogram, REGISTER load per site per second), and
one expectation per verdict of ``fleet.expect``."""

from __future__ import annotations

import math
from typing import Protocol

from endpoint.config import SETTINGS, ConnectionSettings
from lab.drill.schema import Scenario
from lab.fleet.meter import FleetPlan, FleetResult
from lab.labs.interface import LabInterface
from lab.scenario.expr import seconds
from lab.scenario.fleetspec import FLEET_BOUNDS, FleetSpec
from lab.stream.events import Event, FleetMeasured, StepFinished, StepStarted
from lab.stream.results import Expectation


class DrillHost(Protocol):
    """What the fleet drill uses of the running drill."""

    env: dict[str, float]
    seed: int

    @property
    def lab(self) -> LabInterface: ...
    @property
    def t0(self) -> float: ...
    def now(self) -> float: ...
    def emit(self, event: Event) -> Event: ...
    def record(self, exp: Expectation) -> None: ...


async def run_fleet_drill(run: DrillHost, scenario: Scenario, fleet: FleetSpec) -> None:
    size = fleet.size(scenario.mode)
    note = (f"{size} endpoints x {len(scenario.topology.sites)} connections; "
            f"{fleet.outage.kind} site {fleet.outage.site}")  # fmt: skip
    line = scenario.lines.get("fleet", 0)
    run.emit(StepStarted(t=run.now(), index=0, id="fleet", action="fleet", line=line, note=note))
    plan = plan_of(run, scenario, fleet, size)
    result = await run.lab.run_storm(plan, t0=run.t0, workers=fleet.workers,
                                     cluster=fleet.cluster)  # fmt: skip
    run.emit(FleetMeasured(t=run.now(), declared=fleet.endpoints, storm=result.to_json()))
    run.emit(StepFinished(t=run.now(), index=0, id="fleet", action="fleet"))
    for exp in verdicts(run, scenario, fleet, result):
        run.record(exp)


def plan_of(run: DrillHost, scenario: Scenario, fleet: FleetSpec, size: int) -> FleetPlan:
    """The scenario's fleet, its bounds worked out."""
    env = run.env
    return FleetPlan(
        endpoints=size,
        sites=tuple(scenario.topology.sites),
        outage_site=fleet.outage.site,
        outage_kind=fleet.outage.kind,
        settings=ConnectionSettings.model_validate(fleet.model_dump(include=set(SETTINGS))),
        outage_at=seconds(fleet.outage.at, env),
        outage_for=seconds(fleet.outage.for_, env),
        settle=seconds(fleet.settle, env),
        duration=seconds(fleet.duration, env) if fleet.duration is not None else None,
        boot=seconds(fleet.boot, env),
        seed=run.seed,
    )


def verdicts(
    run: DrillHost, scenario: Scenario, fleet: FleetSpec, result: FleetResult
) -> list[Expectation]:
    want = fleet.expect
    lines = scenario.lines
    t = run.now()

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
        limit = seconds(bound, run.env)
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
