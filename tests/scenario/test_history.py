"""``geolab report --history``: three runs of one drill, the second's verdict changed with
the drill file unchanged (flaky) and the third's detection three times as slow (a
regression), in one page that headless Chromium lays out; runs of two formats, or a run
that is no timeline, are invalid input."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.cli.main import main

DRILL = """name: a site killed under a keep-alive
mode: sim
topology: {{sites: [a, b]}}
endpoint:
  connections:
    - {{site: a, reg_interval: 60, retry_interval: 1, transaction_timeout: 1,
       keepalive: options, keepalive_interval: {interval}, keepalive_timeout: 0.5}}
    - {{site: b, reg_interval: 60, retry_interval: 1, transaction_timeout: 1}}
steps:
  - wait_for: {{event: ConnectionStatusChanged, connection: 0, status: Available}}
    within: 5s
  - id: kill
    fault: {{kind: kill, site: a}}
  - expect: {{event: ConnectionStatusChanged, connection: 0, status: Unavailable}}
    within: 10s
  - heal: kill
  - expect: {{event: ConnectionStatusChanged, connection: 0, status: Available}}
    within: 5s
"""


def _run(tmp_path: Path, n: int, interval: float) -> Path:
    drill = tmp_path / f"v{interval}" / "outage.yaml"  # one stem: one drill, over the runs
    drill.parent.mkdir(exist_ok=True)
    drill.write_text(DRILL.format(interval=interval))
    out = tmp_path / f"run{n}"
    assert main(["run", str(drill), "--seed", str(n), "-q", "--report-dir", str(out)]) == 0
    (folder,) = out.iterdir()
    return folder


def _runs(tmp_path: Path) -> list[Path]:
    first, second, third = _run(tmp_path, 1, 1), _run(tmp_path, 2, 1), _run(tmp_path, 3, 4)
    timeline = second / "timeline.json"  # the same drill file, another verdict: flaky
    data = json.loads(timeline.read_text())
    scenario = data["scenarios"][0]
    scenario["passed"] = False
    for event in scenario["events"]:  # (the verdict the stream itself records)
        if event["kind"] in ("run_end", "expectation"):
            event["data"]["passed"] = False
    timeline.write_text(json.dumps(data))
    return [first, second, third]


def test_three_runs_one_flaky_verdict_and_one_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = _runs(tmp_path)
    out = tmp_path / "history"
    capsys.readouterr()
    assert main(["report", "--history", *map(str, runs), "--out", str(out)]) == 0
    assert "3 runs, 1 drills; flaky: outage; written" in capsys.readouterr().out
    page = (out / "history.html").read_text()
    row = re.search(r'<tr data-drill="outage">(.*?)</tr>', page, re.S)
    assert row is not None
    assert row.group(1).count('class="PASS"') == 2 and row.group(1).count('class="FAIL"') == 1
    assert 'class="flaky"' in row.group(1)
    assert 'data-figure="detection" data-regressions="1"' in row.group(1)  # run 3 only
    assert 'data-figure="recovery" data-regressions="0"' in row.group(1)
    dom = _in_chromium(tmp_path, out / "history.html")
    assert dom.count('class="worse"') == 1  # the one red dot, drawn
    assert "3 runs" in dom and "1 flaky" in dom


def _in_chromium(tmp_path: Path, page: Path) -> str:
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip


def test_runs_of_two_formats_or_no_timeline_are_invalid_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = _run(tmp_path, 1, 1)
    with gzip.open(Path(__file__).parent / "data" / "format1-sim-seed3-timeline.json.gz") as f:
        old = tmp_path / "old.json"
        old.write_bytes(f.read())
    capsys.readouterr()
    assert main(["report", "--history", str(new), str(old)]) == 2
    err = capsys.readouterr().err
    assert f"{old}:1: timeline format 1, but {new} is format 2" in err
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2]")
    assert main(["report", "--history", str(junk)]) == 2
    assert f"{junk}:1: not a geolab timeline" in capsys.readouterr().err
