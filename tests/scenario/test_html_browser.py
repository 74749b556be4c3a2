"""The HTML report opened in a real headless browser (Debian chromium): the connection
lanes are laid out, one per connection; a fleet's histogram and load curves are drawn."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.report import write_reports
from lab.run.runner import run_scenario
from lab.scenario import load_scenario
from lab.sim.loop import run as sim_run
from lab.stream.results import ScenarioResult

SCENARIO = Path(__file__).parents[2] / "scenarios" / "site-a-killed.yaml"
STORM = Path(__file__).parents[2] / "scenarios" / "registration-storm.yaml"
pytestmark = pytest.mark.interop


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(tmp_path: Path, result: ScenarioResult) -> str:
    """The report's DOM after the browser laid it out and ran its script."""
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    paths = write_reports(
        tmp_path, {"id": "browser", "seed": 0, "mode": result.mode, "backend": "x"}, [result]
    )
    return subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            paths["html"].as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_report_renders_its_lanes_in_a_browser(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    result = asyncio.run(run_scenario(load_scenario(SCENARIO), backend="embedded"))
    dom = rendered(tmp_path, result)
    lanes = re.search(r'data-lanes-rendered="(\d+)"', dom)
    conns = re.search(r'data-connections="(\d+)"', dom)
    assert lanes is not None and conns is not None, dom[:500]
    statuses = sum(1 for e in result.events if e.label == "ConnectionStatusChanged")
    assert int(lanes.group(1)) == statuses  # one drawn segment per status period
    assert int(conns.group(1)) == 2


def test_report_draws_the_storm_in_a_browser(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    scenario = load_scenario(STORM)
    scenario.mode = "sim"
    dom = rendered(tmp_path, sim_run(run_scenario(scenario, seed=1)))
    bins = re.search(r'data-bins-rendered="(\d+)"', dom)
    loads = re.search(r'data-site-loads="(\d+)"', dom)
    assert bins is not None and loads is not None, dom[:500]
    assert int(bins.group(1)) == 10  # every histogram bin laid out (empty bins are thin)
    assert int(loads.group(1)) == 2  # one load curve per site
