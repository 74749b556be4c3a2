"""A lab touches only what it started: untrusted state files are left alone, a process is
known by PID *and* start time, a record without a specific folder selects nothing, and
``down`` / ``cleanup`` never touch a drill that is running."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab.system.procs import processes_mentioning, start_time
from lab.system.state import LabState, Tracked

pytestmark = pytest.mark.interop


def geolab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.cli.main", *args],
        capture_output=True, text=True, timeout=60, check=False, env=os.environ.copy(),
    )  # fmt: skip


@pytest.fixture
def bystander() -> subprocess.Popen[bytes]:
    """A process the lab did not start (it must survive every clean-up here)."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def forged(state_dir: Path, pid: int, **kw: object) -> LabState:
    state = LabState(id="forged", workdir=str(kw.pop("workdir", "/tmp/geolab-forged")),
                     runner_pid=999_999, runner_started=None, **kw)  # type: ignore[arg-type]  # fmt: skip
    state.processes = [Tracked("site:a", pid, "sleep", kw.get("started"))]  # type: ignore[arg-type]
    state.save()
    return state


def test_a_state_file_others_could_write_is_not_trusted(
    state_dir: Path, bystander: subprocess.Popen[bytes]
) -> None:
    state = forged(state_dir, bystander.pid)
    state.path.chmod(0o666)
    out = geolab("cleanup")
    assert "not trusted" in out.stderr and "writable by others" in out.stderr
    assert bystander.poll() is None and state.path.exists()
    state.path.chmod(0o600)
    state_dir.chmod(0o777)
    assert "not trusted" in geolab("cleanup").stderr and bystander.poll() is None
    state_dir.chmod(0o700)


def test_a_pid_whose_start_time_differs_is_another_process(
    state_dir: Path, bystander: subprocess.Popen[bytes]
) -> None:
    started = start_time(bystander.pid)
    assert started is not None
    state = LabState(id="reused", workdir="/tmp/geolab-reused", runner_pid=999_999)
    state.processes = [Tracked("site:a", bystander.pid, "sleep", started + 1)]
    state.save()
    geolab("cleanup")
    assert bystander.poll() is None  # the PID, but not the process that was recorded
    assert not state.path.exists()


def test_a_record_without_a_specific_folder_selects_nothing(
    state_dir: Path, bystander: subprocess.Popen[bytes]
) -> None:
    for workdir in ("", "/", "/tmp"):
        state = LabState(id="empty", workdir=workdir, runner_pid=999_999)
        state.save()
        geolab("cleanup")
        assert bystander.poll() is None, workdir


LONG_DRILL = """\
name: a drill that is still running
endpoint:
  connections: [{site: a}, {site: b}]
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 30s
  - sleep: 120s
"""


def test_down_and_cleanup_leave_a_running_drill_alone(state_dir: Path, tmp_path: Path) -> None:
    """`geolab down` and `geolab cleanup` while a drill runs: its state file, its sites and
    the drill itself are untouched (it is still registered and running), and it is then
    stopped by its own Ctrl-C, which leaves nothing."""
    up = geolab("up", "--backend", "embedded", "--sites", "a,b")
    assert up.returncode == 0, up.stderr
    drill = tmp_path / "long.yaml"
    drill.write_text(LONG_DRILL)
    run = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", str(drill), "--backend", "embedded",
         "--report-dir", str(tmp_path / "r"), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy(),
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while len(list(state_dir.glob("*.json"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # the drill's lab writes its state file as it starts
        states = {json.loads(p.read_text())["id"]: json.loads(p.read_text())
                  for p in state_dir.glob("*.json")}  # fmt: skip
        assert len(states) == 2
        (mine,) = [s for s in states.values() if s["runner_pid"] == run.pid]
        down = geolab("down")
        assert down.returncode == 0, down.stderr
        assert "belongs to a running drill" in down.stdout
        assert geolab("cleanup").returncode == 0
        assert [json.loads(p.read_text())["id"] for p in state_dir.glob("*.json")] == [mine["id"]]
        assert run.poll() is None  # still running, its sites with it
        assert processes_mentioning(mine["workdir"])
        assert geolab("down", "--all").returncode == 0
        assert run.poll() is None and processes_mentioning(mine["workdir"])
        os.kill(run.pid, signal.SIGINT)
        out, err = run.communicate(timeout=60)
        assert run.returncode == 130, out.decode() + err.decode()
        assert "everything started was stopped" in err.decode()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert list(state_dir.glob("*.json")) == []


def test_cleanup_ends_an_unrecorded_lab_process_but_not_a_job_reading_the_lab_s_folder(
    state_dir: Path, tmp_path: Path
) -> None:
    """A lab starts every process in a session of its own; one whose PID never reached
    the state file is ended by ``cleanup`` with its group. A user's job that merely names
    the lab's folder (a ``less`` of a site's log in a terminal: its own process group in
    the terminal's session) is not the lab's, and neither is its group."""
    workdir = tmp_path / "geolab-lab"
    (workdir / "a").mkdir(parents=True)
    log = workdir / "a" / "kamailio.log"
    log.write_text("")
    mine = subprocess.Popen(["tail", "-f", str(log)], start_new_session=True)  # the lab's
    shell = subprocess.Popen(  # a terminal's session, and a job in it reading the log
        ["setsid", "bash", "-c", 'set -m; tail -f "$LOG" & wait'],
        env={**os.environ, "LOG": str(log)},
    )  # fmt: skip
    jobs: list[int] = []
    try:
        deadline = time.monotonic() + 10
        while not (jobs := [p for p in processes_mentioning(str(log)) if p != mine.pid]):
            assert time.monotonic() < deadline
            time.sleep(0.02)  # the shell starting its job
        (job,) = jobs
        assert os.getpgid(job) == job  # a group of its own, as a shell's job is
        state = LabState(id="unrecorded", workdir=str(workdir), runner_pid=999_999,
                         runner_started=None)  # fmt: skip
        state.save()
        out = geolab("cleanup")
        assert out.returncode == 0, out.stderr
        assert f"killed unrecorded process {mine.pid}" in out.stdout
        assert mine.wait(timeout=10) == -9
        assert processes_mentioning(str(log)) == [job]  # the user's job is alive
        assert shell.poll() is None
    finally:
        for pgid in jobs:  # the shell's job: a group of its own, which the shell's end leaves
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, 9)
        for proc in (mine, shell):
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
                proc.wait()
    deadline = time.monotonic() + 5
    while processes_mentioning(str(log)) and time.monotonic() < deadline:
        time.sleep(0.02)  # SIGKILLed, being reaped
    assert processes_mentioning(str(log)) == []  # the test leaves nothing behind


def test_a_stopped_lab_leaves_no_folder_and_no_secret(backend: str, tmp_path: Path) -> None:
    """The folder a lab made goes with it; a folder it was given stays, without the files
    that held the digest password; `geolab up`'s folder (its journal) stays too."""
    from lab.labs.interface import LabConfig
    from lab.real.lab import Lab

    async def main(config: LabConfig) -> Path:
        async with Lab(config) as lab:
            assert any(p.name in ("kamailio.cfg", "password") for p in lab.workdir.rglob("*"))
            return lab.workdir

    made = asyncio.run(main(LabConfig(backend=backend, password="s3cret")))
    assert not made.exists()
    given = tmp_path / "given"
    given.mkdir()
    assert asyncio.run(main(LabConfig(backend=backend, password="s3cret", workdir=given))) == given
    left = [p for p in given.rglob("*") if p.is_file()]
    assert left and not [p for p in left if b"s3cret" in p.read_bytes()]
    kept = asyncio.run(main(LabConfig(backend=backend, password="s3cret", keep_workdir=True)))
    try:
        assert kept.is_dir() and not [
            p for p in kept.rglob("*") if p.is_file() and b"s3cret" in p.read_bytes()
        ]
    finally:
        shutil.rmtree(kept)
