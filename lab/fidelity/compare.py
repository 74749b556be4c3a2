"""One drill both ways — real sites and virtual time — and whether they agree: the same
verdict, and per connection the same sequence of status changes."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass
from pathlib import Path

from endpoint.core.events import ConnectionStatusChanged
from lab.drill import load_scenario
from lab.run.factory import run_in_mode
from lab.run.runner import run_scenario
from lab.stream.events import EndpointEvent
from lab.stream.results import ScenarioResult

Statuses = dict[int, list[str]]


@dataclass(frozen=True)
class Agreement:
    seed: int
    real: tuple[bool, Statuses]
    sim: tuple[bool, Statuses]

    @property
    def agrees(self) -> bool:
        return self.real == self.sim

    def describe(self) -> str:
        if self.agrees:
            return f"seed {self.seed}: agree ({'PASS' if self.real[0] else 'FAIL'})"
        real, sim = ("PASS" if side[0] else "FAIL" for side in (self.real, self.sim))
        return f"seed {self.seed}: real {real} {self.real[1]} | sim {sim} {self.sim[1]}"


def statuses(result: ScenarioResult) -> Statuses:
    out: Statuses = {}
    for e in result.events:
        if isinstance(e, EndpointEvent) and isinstance(e.event, ConnectionStatusChanged):
            out.setdefault(e.event.connection, []).append(str(e.event.status))
    return out


def both_ways(text: str, seed: int, *, backend: str = "embedded") -> Agreement:
    """Run drill ``text`` on ``backend`` and in simulation (with ``seed``)."""
    with tempfile.TemporaryDirectory(prefix="geolab-fidelity-") as folder:
        path = Path(folder) / f"generated-{seed}.yaml"
        path.write_text(text)
        real = asyncio.run(run_scenario(load_scenario(path), backend=backend, seed=seed))
        scenario = load_scenario(path)
        scenario.mode = "sim"
        sim = run_in_mode("sim", run_scenario(scenario, seed=seed))
    return Agreement(seed, (real.passed, statuses(real)), (sim.passed, statuses(sim)))
