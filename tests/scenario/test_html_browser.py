"""The HTML report opened in a real headless browser (Debian chromium): the connection
lanes are laid out, one per connection; a fleet's histogram and load curves are drawn; a
drill's SIP ladder has one arrow per SIP message of the timeline, and is not blank."""

from __future__ import annotations

import asyncio
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.report import write_reports
from lab.run.runner import run_scenario
from lab.sim.loop import run as sim_run
from lab.stream.results import ScenarioResult

SCENARIO = Path(__file__).parents[2] / "scenarios" / "site-a-killed.yaml"
CALLS = Path(__file__).parents[2] / "scenarios" / "second-line-rings.yaml"
STORM = Path(__file__).parents[2] / "scenarios" / "registration-storm.yaml"
pytestmark = pytest.mark.interop


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def rendered(tmp_path: Path, result: ScenarioResult, *, screenshot: Path | None = None) -> str:
    """The report's DOM after the browser laid it out and ran its script (or, given
    ``screenshot``, a PNG of the page there)."""
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
            *(["--window-size=1300,2400", f"--screenshot={screenshot}"] if screenshot
              else ["--dump-dom"]),
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


def pixels(png: bytes) -> set[bytes]:
    """The distinct pixels of an 8-bit RGB(A) PNG, its rows unfiltered (RFC 2083 6)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, bpp = 8, b"", 0, 4
    while pos < len(png):
        (length,), kind = struct.unpack(">I", png[pos : pos + 4]), png[pos + 4 : pos + 8]
        chunk = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, bpp = struct.unpack(">I", chunk[:4])[0], {2: 3, 6: 4}[chunk[9]]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * bpp
    prev, seen = bytearray(stride), set()
    for i in range(0, len(raw), stride + 1):
        kind, row = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        for j in range(stride):
            a = row[j - bpp] if j >= bpp else 0
            b, c = prev[j], prev[j - bpp] if j >= bpp else 0
            if kind == 1:
                row[j] = (row[j] + a) & 255
            elif kind == 2:
                row[j] = (row[j] + b) & 255
            elif kind == 3:
                row[j] = (row[j] + (a + b) // 2) & 255
            elif kind == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                row[j] = (row[j] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        seen.update(bytes(row[k : k + bpp]) for k in range(0, stride, bpp * 7))
        prev = row
    return seen


def test_report_draws_the_sip_ladder_in_a_browser(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    result = asyncio.run(run_scenario(load_scenario(CALLS), backend="embedded"))
    dom = rendered(tmp_path, result)
    arrows = re.search(r'data-arrows="(\d+)"', dom)
    assert arrows is not None, dom[:500]
    sip = sum(1 for e in result.events if e.label == "sip")
    assert sip > 20 and int(arrows.group(1)) == sip  # one arrow per SIP message
    assert "party callee" in dom and "site b" in dom
    shot = tmp_path / "page.png"
    rendered(tmp_path, result, screenshot=shot)
    assert len(pixels(shot.read_bytes())) > 10  # text and coloured arrows, not a blank page
