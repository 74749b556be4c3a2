"""Ctrl-C and SIGTERM at random points of a drill with parties and a call: the run ends
within a bound, exits 130 / 143, says so truthfully, and leaves nothing behind (no state
file, no process) even before ``geolab cleanup``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.system.procs import processes_mentioning

pytestmark = pytest.mark.interop
DRILL = Path(__file__).parents[2] / "scenarios" / "inbound-via-b-while-a-down.yaml"


def watch_state(folder: Path, run: subprocess.Popen[bytes], seconds: float) -> set[str]:
    """The lab folders the run's state files name, sampled for ``seconds`` (or until it
    ends): what must be gone afterwards."""
    workdirs: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and run.poll() is None:
        for state in folder.glob("*.json"):
            try:
                workdirs.add(json.loads(state.read_text())["workdir"])
            except (OSError, ValueError, KeyError):
                pass
        time.sleep(0.02)  # sampling the state folder while the drill runs
    return workdirs


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("backend", ["embedded", "kamailio"])
def test_a_signalled_run_stops_everything_and_says_so(
    sig: int, code: int, backend: str, tmp_path: Path
) -> None:
    if backend == "kamailio" and not Path("/usr/sbin/kamailio").exists():
        pytest.skip("kamailio is not installed")
    rng = random.Random(f"{sig}-{backend}")
    env = {**os.environ, "GEOLAB_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    hit = 0
    for _ in range(3):
        run = subprocess.Popen(
            [sys.executable, "-m", "lab.cli.main", "run", str(DRILL), "--backend", backend,
             "--report-dir", str(tmp_path / "reports")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        workdirs = watch_state(tmp_path / "state", run, rng.uniform(0.3, 1.8))
        if run.poll() is None:
            os.kill(run.pid, sig)
        sent = time.monotonic()
        _, err = run.communicate(timeout=30)
        took = time.monotonic() - sent
        if run.returncode in (0, 1):  # it had finished already: nothing to check here
            continue
        text = err.decode()
        hit += 1
        assert run.returncode == code, text
        assert "Traceback" not in text and "internal error" not in text, text
        assert "everything started was stopped" in text or "nothing had started" in text, text
        assert took < 5.0  # every child ended within the bound
        assert list((tmp_path / "state").glob("*.json")) == []
        assert [p for w in workdirs for p in processes_mentioning(w)] == []
    assert hit >= 1  # at least one signal landed mid-drill


@pytest.mark.parametrize("backend", ["embedded", "kamailio"])
def test_a_killed_run_leaves_only_what_geolab_cleanup_removes(backend: str, tmp_path: Path) -> None:
    if backend == "kamailio" and not Path("/usr/sbin/kamailio").exists():
        pytest.skip("kamailio is not installed")
    rng = random.Random(f"kill-{backend}")
    env = {**os.environ, "GEOLAB_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    workdirs: set[str] = set()
    for _ in range(3):
        run = subprocess.Popen(
            [sys.executable, "-m", "lab.cli.main", "run", str(DRILL), "--backend", backend,
             "--report-dir", str(tmp_path / "reports")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        workdirs |= watch_state(tmp_path / "state", run, rng.uniform(0.5, 2.0))
        run.kill()
        run.wait()
    cleanup = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "cleanup"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert cleanup.returncode == 0, cleanup.stderr
    assert list((tmp_path / "state").glob("*.json")) == []
    assert [p for w in workdirs for p in processes_mentioning(w)] == []


def test_sigterm_to_a_fleet_drill_s_whole_group_ends_it(tmp_path: Path) -> None:
    """A SIGTERM to the process group (as a CI runner's timeout sends it) reaches the
    fleet's worker processes too: the runner must not wait on a lock a dying worker held;
    it ends within the bound, exit 143, and leaves nothing behind."""
    storm = Path(__file__).parents[2] / "scenarios" / "registration-storm.yaml"
    env = {**os.environ, "GEOLAB_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    rng = random.Random("fleet-group")
    hit = 0
    for _ in range(2):
        run = subprocess.Popen(
            [sys.executable, "-m", "lab.cli.main", "run", str(storm), "--backend", "embedded",
             "--fleet-size", "200", "--report-dir", str(tmp_path / "reports")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        workdirs = watch_state(tmp_path / "state", run, rng.uniform(1.5, 3.0))
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGTERM)
        sent = time.monotonic()
        _, err = run.communicate(timeout=60)
        if run.returncode in (0, 1):
            continue
        hit += 1
        assert run.returncode == 143, err.decode()
        assert time.monotonic() - sent < 15.0
        assert list((tmp_path / "state").glob("*.json")) == []
        assert [p for w in workdirs for p in processes_mentioning(w)] == []
    assert hit  # the storm lasts far longer than the moment it was signalled
