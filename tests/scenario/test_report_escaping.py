"""Reports escape every field, whatever a timeline holds; a timeline that does not fit is
invalid input (exit 2), never a traceback."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from lab.cli.main import main

REFERENCE = Path(__file__).parent / "data" / "sim-seed3-timeline.json.gz"
EVIL = "<script>alert(1)</script>|`x`"


def timeline() -> dict[str, Any]:
    with gzip.open(REFERENCE, "rt") as f:
        data: dict[str, Any] = json.load(f)
    data["run"]["id"] = "x"
    return data


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(data))
    return path


def test_fields_a_timeline_carries_are_escaped(tmp_path: Path) -> None:
    data = timeline()
    data["run"].update(seed=EVIL, backend=EVIL, mode=EVIL)
    first = data["scenarios"][0]
    first["name"] = first["backend"] = EVIL
    for event in first["events"]:
        if event["kind"] == "run_start":
            event["data"]["name"] = EVIL
        if event["kind"] == "lab" and event["data"]["event"] in ("fault_applied",
                                                                  "fault_healed"):
            event["data"]["site"] = EVIL
        if event["kind"] == "connection":  # the DR figures' tables name the site
            event["data"]["site"] = EVIL
        if event["kind"] == "expectation":
            event["data"]["expected"] = event["data"]["observed"] = EVIL
            event["data"]["passed"] = False
        if event["kind"] == "error":
            event["data"]["message"] = EVIL
    assert main(["report", str(write(tmp_path, data)), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "<script>" not in summary and "&lt;script&gt;" in summary
    assert "\\|" in summary  # a table cell cannot be broken out of
    assert "#### DR figures" in summary and "<h3>DR figures</h3>" in page  # escaped there too


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["scenarios"][0]["events"][0]["data"].update(seed="x"),
        lambda d: d["scenarios"][0]["events"].__setitem__(3, {"t": "soon", "kind": "lab"}),
        lambda d: d["scenarios"][0]["expectations"][0].update(line="top"),
        lambda d: d.update(scenarios={"no": "list"}),
        lambda d: d.update(run=[]),
        lambda d: [
            e["data"].update(status="Bogus")
            for e in d["scenarios"][0]["events"]
            if e["kind"] == "endpoint"
        ],
        lambda d: [
            e["data"].update(histogram="tall")
            for s in d["scenarios"]
            for e in s["events"]
            if e["kind"] == "fleet"
        ],
        lambda d: [
            e["data"].update(p99="slow")
            for s in d["scenarios"]
            for e in s["events"]
            if e["kind"] == "fleet"
        ],
    ],
)
def test_a_timeline_that_does_not_fit_is_invalid_input(
    tmp_path: Path, edit: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    data = timeline()
    edit(data)
    assert main(["report", str(write(tmp_path, data)), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "invalid input: cannot read timeline" in err and "Traceback" not in err
