"""The library in virtual time writes the same timeline as the reference kept here (made
with ``geolab run scenarios/ --mode sim --seed 3``), apart from the run's id and wall-clock
start. A change to the stream's JSON form shows up here first: renew the reference only
for a documented format change."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from lab.cli.main import main

ROOT = Path(__file__).parents[2]
REFERENCE = Path(__file__).parent / "data" / "sim-seed3-timeline.json.gz"


def _normalised(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data["run"].pop("id")
    data["run"].pop("started")
    return data


def test_library_timeline_in_simulation_equals_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # sources are recorded as given: scenarios/<file>
    code = main(["run", "scenarios/", "--mode", "sim", "--seed", "3", "-q",
                 "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    (timeline,) = tmp_path.glob("*/timeline.json")
    got = _normalised(timeline)
    with gzip.open(REFERENCE, "rt") as f:
        want = json.load(f)
    assert [s["name"] for s in got["scenarios"]] == [s["name"] for s in want["scenarios"]]
    for mine, theirs in zip(got["scenarios"], want["scenarios"], strict=True):
        assert mine == theirs, mine["name"]
    assert got == want
