"""A simulated fleet: the registration storm when a site returns, measured."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from endpoint.config import ConnectionSettings
from lab.drill import load_scenario
from lab.fleet.meter import FleetPlan, FleetResult
from lab.labs.interface import LabConfig
from lab.real.fleet import run_fleet
from lab.report import write_reports
from lab.report.timeline import read_timeline
from lab.run.runner import run_scenario
from lab.sim.lab import SimLab
from lab.sim.loop import run
from lab.stream.events import FaultApplied, FaultHealed, FleetMeasured
from lab.stream.results import ScenarioResult


def storm(seed: int, endpoints: int = 60) -> FleetResult:
    async def main() -> FleetResult:
        lab = SimLab(LabConfig(seed=seed))
        await lab.start()
        plan = FleetPlan(
            endpoints, settings=ConnectionSettings(reg_interval=300, retry_interval=30, transaction_timeout=8),
            outage_at=60, outage_for=400, settle=300, seed=seed,
        )  # fmt: skip
        result = await run_fleet(lab, plan)
        await lab.stop()
        return result

    return run(main())


def test_every_endpoint_comes_back_within_the_retry_bound() -> None:
    result = storm(seed=3)
    assert result.unrecovered == 0 and len(result.recovery) == 60
    assert all(0 <= r <= 30 + 8 + 1 for r in result.recovery)  # retry interval + one timeout
    assert result.peak("a") >= 60  # the storm: every endpoint at once on the returning site
    assert sum(result.load["b"].values()) > 0
    assert len(result.histogram()) == 10


def test_the_same_seed_gives_the_same_storm() -> None:
    assert storm(seed=9).summary() == storm(seed=9).summary()


STORM = """\
name: storm
mode: sim
fleet:
  endpoints: 120
  reg_interval: 10
  retry_interval: 2
  transaction_timeout: 2
  outage: {site: a, kind: KIND, at: 2s, for: 12s}
  settle: 10s
  expect:
    p99_within: BOUND
    peak_register_per_s_at_most: {b: 1000}
"""


def drill(
    tmp_path: Path, kind: str = "kill", bound: str = "retry_interval + 1s", seed: int = 1
) -> ScenarioResult:
    path = tmp_path / "storm.yaml"
    path.write_text(STORM.replace("KIND", kind).replace("BOUND", bound))
    return run(run_scenario(load_scenario(path), seed=seed))


@pytest.mark.parametrize("kind", ["kill", "hang", "partition"])
def test_a_fleet_scenario_measures_the_storm(tmp_path: Path, kind: str) -> None:
    result = drill(tmp_path, kind)
    assert result.passed, [e.observed for e in result.failures] + result.errors
    (fleet,) = [e.fields() for e in result.events if isinstance(e, FleetMeasured)]
    assert fleet["endpoints"] == 120 and fleet["unrecovered"] == 0
    assert 0 <= fleet["p50"] <= fleet["p99"] <= 2 + 1  # within one retry interval (+ a margin)
    assert sum(n for _, _, n in fleet["histogram"]) == 120
    applied = [e.t for e in result.events if isinstance(e, FaultApplied)]
    healed = [e.t for e in result.events if isinstance(e, FaultHealed)]
    assert applied and healed and abs(healed[0] - applied[0] - 12) < 0.01
    # every endpoint renewed on site b every 10 s: about 120 REGISTERs per 10 s, steadily
    total_b = sum(n for _, n in fleet["load"]["b"])
    assert 120 * 2 <= total_b <= 120 * 4


def test_a_tight_bound_fails_at_its_line(tmp_path: Path) -> None:
    result = drill(tmp_path, bound="10ms")
    assert not result.passed
    (failure,) = result.failures
    assert failure.line == 11 and "p99" in failure.expected and "within 0.010s" in failure.expected


def test_a_fleet_run_replays_byte_for_byte(tmp_path: Path) -> None:
    def timeline(seed: int) -> str:
        return json.dumps([e.to_json() for e in drill(tmp_path, seed=seed).events], default=str)

    assert timeline(4) == timeline(4)


def test_the_reports_draw_the_storm(tmp_path: Path) -> None:
    result = drill(tmp_path)
    paths = write_reports(tmp_path / "out", {"id": "x", "seed": 1, "mode": "sim"}, [result])
    page = paths["html"].read_text()
    assert page.count('class="bin"') == 10 and page.count('class="site-load"') == 2
    junit = ET.parse(paths["junit"]).getroot()
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["fleet.endpoints"] == "120" and props["fleet.unrecovered"] == "0"
    assert float(props["fleet.p99"]) <= 3 and "fleet.peak.a" in props
    summary = paths["markdown"].read_text()
    assert "registration storm" in summary and "p99" in summary
    again = read_timeline(paths["timeline"])
    assert [e.to_json() for e in again[1][0]] == [e.to_json() for e in result.events]
