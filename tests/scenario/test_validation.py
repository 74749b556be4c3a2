"""Drills that cannot mean what they say are invalid input (exit 2, file:line, no
traceback), found before any site starts: unknown fault kinds, faults the chosen mode or
backend cannot apply, heals of nothing, window keys on steps that have no window."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.cli.main import main
from lab.drill import load_scenario
from lab.errors import ScenarioError
from lab.faults.kinds import KINDS, FaultKind, unsupported

DRILL = """\
name: x
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
  - fault: {kind: KIND, site: a}
    id: f
  - heal: f
endpoint:
  connections: [{site: a}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_an_unknown_fault_kind_names_file_line_and_the_kinds(tmp_path: Path) -> None:
    path = write(tmp_path, DRILL.replace("KIND", "kil"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.path) == (str(path), 4, "steps[1].fault.kind")
    assert all(repr(k.value) in problem.message for k in FaultKind)


@pytest.mark.parametrize("command", ["validate", "run"])
def test_a_fault_the_mode_cannot_apply_is_invalid_before_anything_starts(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, DRILL.replace("KIND", "bandwidth"))
    assert main(["validate", str(path)]) == 0  # the real lab applies it
    capsys.readouterr()
    args = ["--report-dir", str(tmp_path / "r")] if command == "run" else []
    assert main([command, str(path), "--mode", "sim", *args]) == 2
    out, err = capsys.readouterr()
    assert f"{path}:4: steps[1].fault.kind: fault 'bandwidth' is not simulated" in err
    assert "Traceback" not in err and "x" not in out.split()  # the drill never began
    assert not (tmp_path / "r").exists()


def test_the_drill_s_own_mode_counts_too(tmp_path: Path) -> None:
    text = "mode: sim\n" + DRILL.replace("KIND", "slicer")
    with pytest.raises(ScenarioError, match=r":5: steps\[1\]\.fault\.kind: fault 'slicer'"):
        load_scenario(write(tmp_path, text))


def test_a_fault_the_backend_cannot_apply(tmp_path: Path) -> None:
    text = DRILL.replace("{kind: KIND, site: a}", "{kind: partition, site: a, via: network}")
    path = write(tmp_path, text)
    load_scenario(path, backend="compose")  # the container network can be cut
    with pytest.raises(ScenarioError, match=r"via network needs a backend of compose"):
        load_scenario(path, backend="embedded")
    with pytest.raises(ScenarioError, match=r"cannot be made via process"):
        load_scenario(write(tmp_path, text.replace("via: network", "via: process")))


def test_proxy_faults_need_the_proxy(tmp_path: Path) -> None:
    text = "topology: {proxy: false}\n" + DRILL.replace("KIND", "latency")
    with pytest.raises(ScenarioError, match=r"needs the fault proxy"):
        load_scenario(write(tmp_path, text))
    load_scenario(write(tmp_path, text.replace("latency", "kill")))  # the process: no proxy


def test_a_heal_of_nothing_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r":6: steps\[2\]\.heal: heal what\? 'g'"):
        load_scenario(write(tmp_path, DRILL.replace("KIND", "kill").replace("heal: f", "heal: g")))
    for ok in ("heal: all", "heal: a", "heal: f"):
        load_scenario(write(tmp_path, DRILL.replace("KIND", "kill").replace("heal: f", ok)))


def test_window_keys_belong_to_waits(tmp_path: Path) -> None:
    text = DRILL.replace("KIND", "kill").replace("    id: f\n", "    id: f\n    after: x\n")
    with pytest.raises(ScenarioError, match=r":4: steps\[1\]: 'after' belongs to wait_for"):
        load_scenario(write(tmp_path, text))


def test_nemesis_and_fleet_faults_are_checked_for_the_mode_as_well() -> None:
    # every kind the nemesis and a fleet's outage may name is one the simulation applies
    assert all(unsupported(k, None, mode="sim", backend="sim") is None
               for k in ("kill", "hang", "partition", "down", "latency", "loss", "stop"))  # fmt: skip
    assert all(unsupported(k, None, mode="real", backend="kamailio") is None for k in KINDS)


def test_an_empty_folder_is_not_a_passing_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", str(tmp_path), "--report-dir", str(tmp_path / "r")]) == 2
    assert "no scenario file" in capsys.readouterr().err


def test_a_black_box_drill_without_the_proxy_cannot_check_sip(tmp_path: Path) -> None:
    text = (
        "name: x\ntopology: {proxy: false}\nendpoint:\n  connections: [{site: a}]\n"
        "steps:\n  - expect: {event: sip, dir: out, method: REGISTER}\n    within: 1s\n"
    )
    path = write(tmp_path, text)
    load_scenario(path)  # geolab's own phone has its tap
    with pytest.raises(ScenarioError, match=r":6: steps\[0\]\.expect\.event: sip events of "):
        load_scenario(path, driver="process")
