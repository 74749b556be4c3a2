"""State expectations: ``expect: {state: {connection: 0, status: Available}}`` holds when
the step runs, or at some moment of its window; a session's state by its alias; a state
that is wrong, or names what the drill lacks, is invalid before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.drill import ScenarioError, load_scenario
from lab.run.runner import run_scenario
from lab.sim.loop import run as sim_run

DRILL = """\
name: states
mode: sim
endpoint:
  connections:
    - {site: a, reg_interval: 60, retry_interval: 1, transaction_timeout: 1,
       keepalive: options, keepalive_interval: 0.5, keepalive_timeout: 0.5}
    - {site: b, reg_interval: 60}
parties:
  - {name: callee, kind: callee, site: b, user: "6001"}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - expect: {state: {connection: 0, status: Available}}
  - id: kill
    fault: {kind: kill, site: a}
  - expect: {state: {connection: 0, status: Available}}
  - expect: {state: {connection: 0, status: Unavailable}}
    within: 0.2s
  - expect: {state: {connection: 0, status: Unavailable}}
    within: keepalive_interval + keepalive_timeout + 1s
  - dial: {connection: 1, destination: "6001", as: out}
  - expect: {state: {session: out, status: Established}}
    within: 3s
  - expect: {state: {connection: 1, status: Available}}
"""


def test_a_state_holds_when_the_step_runs_or_within_its_window(tmp_path: Path) -> None:
    path = tmp_path / "states.yaml"
    path.write_text(DRILL)
    result = sim_run(run_scenario(load_scenario(path), seed=1))
    got = [(e.line, e.passed) for e in result.expectations if e.step is not None]
    assert got == [(11, True), (13, True), (16, True), (17, False), (19, True), (22, True),
                   (24, True)]  # fmt: skip
    by_line = {e.line: e for e in result.expectations}
    # just after the kill nothing has noticed yet: Available still, not yet Unavailable
    assert by_line[17].observed.startswith("it was Available since ")
    assert "connection 0 is Unavailable since" in by_line[19].observed


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("{connection: 0, session: out, status: Available}", "a connection or a session"),
        ("{status: Available}", "a connection or a session"),
        ("{connection: 0, status: Busy}", "status 'Busy' is not one of Registering"),
        ("{session: out, status: Available}", "status 'Available' is not one of Dialing"),
        ("{connection: 7, status: Available}", "the drill has no connection 7"),
        ("{session: nobody, status: Established}", "no session named 'nobody'"),
    ],
)
def test_a_state_that_cannot_mean_anything_is_invalid(
    tmp_path: Path, state: str, says: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(DRILL.replace("{connection: 1, status: Available}}", state + "}"))
    with pytest.raises(ScenarioError, match=r"bad\.yaml:24: steps\[8\]\.expect\.state") as err:
        load_scenario(path)
    assert says in str(err.value)


def test_a_state_takes_within_and_after_only(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(DRILL + "    count: 2\n")
    with pytest.raises(ScenarioError, match="a state expectation takes 'within' and 'after'"):
        load_scenario(path)
