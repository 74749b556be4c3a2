"""Scenario files: every error at once, each as file:line: path: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.drill import ScenarioError, load_scenario, validate_files
from lab.errors import ExprError
from lab.scenario.expr import seconds

LIBRARY = sorted(Path(__file__).parents[2].joinpath("scenarios").glob("*.yaml"))

GOOD = """\
name: demo
topology: {sites: [a, b]}
endpoint:
  connections:
    - {site: a, reg_interval: 10}
    - {site: b, reg_interval: 20}
steps:
  - dial: {connection: 0, destination: "6001", as: c1}
  - expect: {event: SessionStatusChanged, session: c1, status: Established}
    within: reg_interval + 2s
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return path


def test_the_library_is_valid() -> None:
    assert len(LIBRARY) >= 1
    assert validate_files(LIBRARY) == []


def test_a_good_file_loads_with_line_marks(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, GOOD))
    assert s.step_lines == [8, 9]
    assert s.env()["reg_interval"] == 10 and s.env()["conn1.reg_interval"] == 20


def test_all_errors_at_once_with_lines(tmp_path: Path) -> None:
    bad = GOOD.replace("{site: b, reg_interval: 20}", "{site: b, reg_intervall: 20}").replace(
        "- dial: {connection: 0", "- dail: {connection: 0"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, bad))
    assert str(info.value).splitlines() == [
        f"{tmp_path / 'x.yaml'}:6: endpoint.connections[1].reg_intervall: unknown field",
        f"{tmp_path / 'x.yaml'}:8: steps[0].dail: unknown field",
    ]


def test_semantic_errors_name_the_field(tmp_path: Path) -> None:
    bad = GOOD.replace("site: b,", "site: c,").replace(
        "within: reg_interval + 2s", "within: reg_intervall + 2s"
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, bad))
    lines = str(info.value).splitlines()
    assert lines[0].endswith(":6: endpoint.connections[1].site: unknown site 'c'; sites: a, b")
    assert ":10: steps[1].within: unknown name(s) reg_intervall" in lines[1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps: []\n", ":2: steps: a scenario needs steps (one endpoint) or a fleet"),
        (
            "name: x\nsteps:\n  - sleep: 1s\n    within: 2s\n",
            ":3: steps[0]: 'within' belongs to wait_for and expect steps",
        ),
        ("name: x\nsteps:\n  - hangup: nobody\n", ":3: steps[0].hangup: no session named 'nobody'"),
        (
            "name: x\nsteps:\n  - fault: {kind: kill, site: z}\n",
            ":3: steps[0].fault.site: unknown site 'z'",
        ),
        (
            "name: x\nsteps:\n  - expect: {event: Nope}\n",
            ":3: steps[0].expect.event: Input should be",
        ),
        ("name: [x\n", ":2: not valid YAML"),
        ("- just\n- a list\n", ":1: a scenario is a mapping"),
    ],
)
def test_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text))
    assert expected in str(info.value)


def test_bounds() -> None:
    env = {"reg_interval": 10.0, "conn1.retry_interval": 3.0}
    assert seconds("reg_interval + 2s", env) == 12.0
    assert seconds("2 * conn1.retry_interval + 500ms", env) == 6.5
    assert seconds(4) == 4.0 and seconds("1m") == 60.0
    for bad in ("__import__('os')", "reg_interval ** 2", "'x'", "nope + 1"):
        with pytest.raises(ExprError):
            seconds(bad, env)


FLEET = """\
name: storm
mode: sim
fleet:
  endpoints: 50
  reg_interval: 10
  outage: {site: a, at: 2s, for: 12s}
  expect:
    p99_within: retry_interval + 1s
"""


def test_a_fleet_scenario_loads_with_its_settings_as_names(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, FLEET))
    assert s.fleet is not None and s.fleet.endpoints == 50 and s.steps == []
    assert s.env()["reg_interval"] == 10 and s.env()["retry_interval"] == 30
    assert s.lines["fleet.expect.p99_within"] == 8


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("site: a, at", "site: c, at"), ":6: fleet.outage.site: unknown site 'c'"),
        (("retry_interval + 1s", "retry_intervall"), ":8: fleet.expect.p99_within: unknown name"),
        (("endpoints: 50", "endpoints: 0"), ":4: fleet.endpoints: Input should be greater"),
        (("for: 12s}", "for: 12s, kind: latency}"), ":6: fleet.outage.kind: a fleet's outage is one of kill, hang, stop, down, partition, not latency"),
        (("mode: sim\n", "steps:\n  - sleep: 1s\n"), ":2: steps: a fleet scenario has no steps"),
        (("fleet:", "topology: {sites: [a]}\nfleet:"), ":3: topology.sites: a fleet needs two"),
    ],
)
def test_fleet_errors_name_file_line_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, FLEET.replace(*change)))
    assert expected in str(info.value)
