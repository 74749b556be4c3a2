"""A step on a session that never appears (its call never rang) fails the drill with an
expectation that names the session and its line — not as a drill that ran out of time."""

from __future__ import annotations

import json
from pathlib import Path

from lab.cli.main import main

DRILL = """\
name: a call to a user nobody is, then answered
endpoint:
  connections:
    - {site: a, reg_interval: 60}
    - {site: b, reg_interval: 60}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 1, status: Available}
    within: 5s
  - call: {site: b, to: "9999", as: in, hold_ms: 100}
  - answer: in
"""


def test_a_session_that_never_appears_fails_its_step_by_name(tmp_path: Path) -> None:
    drill = tmp_path / "drill.yaml"
    drill.write_text(DRILL)
    code = main(["run", str(drill), "--mode", "sim", "-q", "--report-dir", str(tmp_path / "r")])
    assert code == 1
    (timeline,) = (tmp_path / "r").glob("*/timeline.json")
    (result,) = json.loads(timeline.read_text())["scenarios"]
    assert result["errors"] == []  # not "ran past its timeout"
    (failed,) = [e for e in result["expectations"] if not e["passed"]]
    assert failed["line"] == 10 and failed["expected"].startswith("session 'in'")
    assert failed["observed"] == "it never appeared within 10s"
