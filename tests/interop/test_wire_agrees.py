"""The endpoint's word against the wire, on real sites: an adapter that says Available
without sending a REGISTER passes the drill's own expectations (it said what they wait
for) and fails the wire's invariant, with both sides said; geolab's own endpoint process,
graded the same way, passes it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.run.runner import run_scenario

pytestmark = pytest.mark.interop
LIAR = Path(__file__).parent / "data" / "lying_adapter.py"
DRILL = """\
name: both sites register
endpoint:
  driver: process
  connections:
    - {site: a, reg_interval: 60}
    - {site: b, reg_interval: 60}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - wait_for: {event: ConnectionStatusChanged, connection: 1, status: Available}
    within: 5s
"""


@pytest.mark.parametrize("backend", ["embedded"])
def test_a_black_box_that_says_available_without_registering_fails(
    backend: str, tmp_path: Path
) -> None:
    path = tmp_path / "drill.yaml"
    path.write_text(DRILL)
    drill = load_scenario(path)
    lie = asyncio.run(run_scenario(drill, backend=backend,
                                   endpoint_command=[sys.executable, str(LIAR)]))  # fmt: skip
    assert not lie.passed
    wrong = [e for e in lie.expectations if not e.passed]
    assert [w.expected.split(":")[1].split()[0] for w in wrong] == ["Available", "Available"]
    assert {w.observed.split(" said")[0] for w in wrong} == {"connection 0", "connection 1"}
    assert all("no 2xx to its REGISTER at all" in w.observed for w in wrong)
    steps = [e for e in lie.expectations if e.step is not None]
    assert steps and all(e.passed for e in steps)  # its words alone would have passed
    honest = asyncio.run(run_scenario(load_scenario(path), backend=backend))
    assert honest.passed, [e for e in honest.expectations if not e.passed]
    agree = [e for e in honest.expectations if e.expected.startswith("the wire agrees")]
    assert agree and all(e.passed for e in agree)
