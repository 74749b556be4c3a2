"""``geolab shrink``: a failing drill's nemesis reduced, in virtual time, to a minimal
schedule that still fails (ddmin), written as a plain drill that fails the same way on
real sites; a drill that passes, or has no nemesis, is invalid input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.drill import load_scenario
from lab.fidelity.shrink import ddmin
from lab.run.runner import run_scenario

DRILL = """\
name: a nemesis the phone cannot ride out
mode: sim
endpoint:
  connections:
    - {site: a, reg_interval: 60, retry_interval: 0.3, transaction_timeout: 0.6,
       keepalive: options, keepalive_interval: 0.3, keepalive_timeout: 0.3}
    - {site: b, reg_interval: 60, retry_interval: 0.3, transaction_timeout: 0.6,
       keepalive: options, keepalive_interval: 0.3, keepalive_timeout: 0.3}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - nemesis: {seed: 11, duration: 8s, interval: 2s, faults: [kill, hang, latency], sites: [a, b]}
  - expect: {state: {connection: 1, status: Available}}
invariants:
  - never: {event: ConnectionStatusChanged, connection: 0, status: Unavailable}
"""


def test_a_failing_simulated_nemesis_s_report_says_how_to_shrink_it(tmp_path: Path) -> None:
    source = tmp_path / "flaky.yaml"
    source.write_text(DRILL)
    assert main(["run", str(source), "--seed", "1", "-q", "--report-dir", str(tmp_path)]) == 1
    (summary,) = tmp_path.glob("*/summary.md")
    assert f"`geolab shrink {source} --seed 1`" in summary.read_text()


def test_ddmin_finds_a_one_minimal_failing_subset() -> None:
    tried: list[list[int]] = []

    def fails(xs: list[int]) -> bool:
        tried.append(xs)
        return 3 in xs and 7 in xs

    assert ddmin(list(range(10)), fails) == [3, 7]
    assert ddmin([5], lambda xs: True) == [5]
    assert len(tried) < 40


def test_a_failing_nemesis_shrinks_to_a_plain_drill_that_fails_on_real_sites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "flaky.yaml"
    source.write_text(DRILL)
    out = tmp_path / "shrunk.yaml"
    assert main(["shrink", str(source), "--seed", "1", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "4 faults -> 1 that still fail" in said
    assert "it fails: line " in said and "never: ConnectionStatusChanged connection=0" in said
    text = out.read_text()
    assert "nemesis:" not in text and text.count("fault:") == 1 and "mode:" not in text
    shrunk = load_scenario(out)
    # the expectation after the nemesis keeps its window: from where the nemesis began
    assert shrunk.steps[-1].after == "nemesis"  # type: ignore[union-attr]
    result = asyncio.run(run_scenario(shrunk, backend="embedded", seed=1))  # real sites
    assert not result.passed
    assert [f.line for f in result.failures] == [shrunk.lines["invariants[0]"]]


@pytest.mark.parametrize(("edit", "says"), [
    (lambda t: t.replace("connection: 0, status: Unavailable", "connection: 0, status: Removed"),
     "passes in virtual time"),
    (lambda t: t.split("  - nemesis:")[0] + "invariants: []\n", "no nemesis step"),
])  # fmt: skip
def test_nothing_to_shrink_is_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: object, says: str
) -> None:
    source = tmp_path / "d.yaml"
    source.write_text(edit(DRILL))  # type: ignore[operator]
    assert main(["shrink", str(source), "--out", str(tmp_path / "o.yaml")]) == 2
    assert says in capsys.readouterr().err
