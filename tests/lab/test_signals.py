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


def catches_sigterm(pid: int) -> bool:
    """Whether ``pid`` has a handler of its own for SIGTERM (/proc's SigCgt mask)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught.split()[1], 16) & (1 << (signal.SIGTERM - 1)))


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


@pytest.mark.parametrize("backend", ["embedded", "kamailio"])
def test_a_cancel_landing_in_the_teardown_still_stops_the_lab(
    backend: str, state_dir: Path
) -> None:
    """The drill ends, its teardown begins (callers given their grace, the endpoint
    stopping), and Ctrl-C lands then, again at every event the teardown tells from its
    first, second or third on (a user pressing it repeatedly): the lab is stopped all
    the same, the cancellation goes on (no verdict), and nothing is left without
    ``geolab cleanup``."""
    import asyncio

    from lab.drill import load_scenario
    from lab.run.runner import ScenarioRunner
    from lab.stream.events import Event, RunFinished, StepFinished

    if backend == "kamailio" and not Path("/usr/sbin/kamailio").exists():
        pytest.skip("kamailio is not installed")
    drill = load_scenario(DRILL)
    last = len(drill.steps) - 1
    landed = []
    for nth in range(3):  # cancelled at every event from the teardown's nth on

        async def main(nth: int = nth) -> tuple[list[Event], list[str]]:
            task = asyncio.current_task()
            assert task is not None
            runner = ScenarioRunner(drill, backend=backend)
            seen = {"after": -1}

            def listener(event: Event) -> None:
                if isinstance(event, StepFinished) and event.index == last:
                    seen["after"] = 0
                elif seen["after"] >= 0:
                    if seen["after"] >= nth:
                        task.cancel()
                        landed.append(nth)
                    seen["after"] += 1

            runner.listeners.append(listener)
            try:
                await runner.run()
            except asyncio.CancelledError:
                workdir = str(runner.lab.workdir)
                return runner.events, processes_mentioning(workdir)
            raise AssertionError("the cancel was not carried on")

        events, processes = asyncio.run(main())
        assert not [e for e in events if isinstance(e, RunFinished)]  # no verdict
        assert processes == []
        assert list(state_dir.glob("*.json")) == []
    assert set(landed) == {0, 1, 2}  # the cancels landed inside the teardown


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_start_up_is_never_swallowed(sig: int, code: int, tmp_path: Path) -> None:
    """A signal while ``geolab run`` imports, builds its schemas, reads the drill or
    starts the lab is a stop request from the first line: the run ends with the signal's
    code and never with a verdict (a Ctrl-C swallowed inside a library's import had let
    a cancelled drill run on and exit 0 with a PASS report)."""
    env = {**os.environ, "GEOLAB_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1"}
    for at in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.1):
        run = subprocess.Popen(
            [sys.executable, "-m", "lab.cli.main", "run", str(DRILL), "--backend", "embedded",
             "--report-dir", str(tmp_path / "reports")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True,
        )  # fmt: skip
        # geolab's first line: its handler of SIGTERM is set (before it, the interpreter
        # itself is starting, and a signal is Python's to handle)
        while not catches_sigterm(run.pid) and run.poll() is None:
            time.sleep(0.002)  # (polling the process's status, nothing to await)
        try:
            run.wait(timeout=at)  # the moment the signal lands (the drill lasts seconds)
        except subprocess.TimeoutExpired:
            os.kill(run.pid, sig)
        _, err = run.communicate(timeout=30)
        text = err.decode()
        assert run.returncode == code, (at, text)
        assert "Traceback" not in text and "Exception ignored" not in text, text
    assert list((tmp_path / "state").glob("*.json")) == []
    assert not list((tmp_path / "reports").glob("*/junit.xml"))  # no verdict was written
