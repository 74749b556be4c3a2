"""``geolab up / fault / heal / status / down / cleanup``, and runners killed at random
points leave nothing behind once ``geolab down`` has run."""

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

from lab.faults.kernel import geolab_tables
from lab.system.procs import processes_mentioning

pytestmark = pytest.mark.interop


def geolab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", *args],
        capture_output=True,
        check=False,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def leftovers(workdirs: list[str]) -> list[int]:
    return [pid for w in workdirs for pid in processes_mentioning(w)]


def test_up_fault_heal_status_down(backend: str, state_dir: Path) -> None:
    up = geolab("up", "--backend", backend)
    assert "is up" in up.stdout and "endpoint target (fault proxy)" in up.stdout
    assert ", TLS 127." in up.stdout  # each site's TLS target, and the CA to trust
    ca = up.stdout.split("chain to the lab's CA ")[1].split()[0]
    assert Path(ca).read_text().startswith("-----BEGIN CERTIFICATE-----")
    workdir = up.stdout.split("journal in ")[1].split()[0]
    try:
        fault = geolab("fault", "kill", "a")
        assert "fault 1: kill on site a via process (took effect in" in fault.stdout
        geolab("fault", "latency", "b", "--param", "latency=50", "--param", "jitter=5")
        status = geolab("status").stdout
        assert "site a: down" in status and "fault 2: latency b via proxy ACTIVE" in status
        bad = geolab("fault", "hang", "zz", check=False)
        assert (
            bad.returncode == 3 and "no site 'zz'" in bad.stderr and "Traceback" not in bad.stderr
        )
        bad = geolab("fault", "latency", "a", "--param", "latency", check=False)
        assert bad.returncode == 2 and "key=value" in bad.stderr
        healed = geolab("heal").stdout
        assert "healed fault 1" in healed and "healed fault 2" in healed
        journal = [
            json.loads(line) for line in Path(workdir, "journal.jsonl").read_text().splitlines()
        ]
        assert [j["action"] for j in journal] == ["up", "fault", "fault", "heal", "heal"]
    finally:
        down = geolab("down")
    assert "is down" in down.stdout
    assert leftovers([workdir]) == []
    assert list(state_dir.glob("*.json")) == [] and list(state_dir.glob("*.sock")) == []
    assert not Path(ca).exists()  # the certificates go with the lab


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_runner_then_down_leaves_nothing(sig: int, state_dir: Path) -> None:
    rng = random.Random(f"runner-{sig}")
    workdirs, ids = [], []
    for trial in range(3):
        config = {"sites": ["a", "b"], "backend": "embedded", "seed": trial}
        runner = subprocess.Popen(
            [sys.executable, "-m", "lab.real.holder", "--config", json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(rng.uniform(0.05, 1.2))  # a random point of its start-up (or after it)
        os.kill(runner.pid, sig)
        try:
            runner.wait(timeout=20)
        except subprocess.TimeoutExpired:  # it did not stop: end it, leave nothing, fail
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
            geolab("down", "--all", check=False)
            raise
        assert runner.stdout is not None
        runner.stdout.close()
        for state in state_dir.glob("*.json"):
            workdirs.append(json.loads(state.read_text())["workdir"])
            ids.append(json.loads(state.read_text())["id"])
        geolab("down", "--all")
        assert list(state_dir.glob("*.json")) == []
    assert leftovers(workdirs) == []
    assert [w for w in workdirs if Path(w, "tls").exists()] == []  # no lab's keys are left
    if os.geteuid() == 0:  # only these labs' tables: another test's lab may hold its own now
        mine = {f"geolab_{i.replace('-', '_')}" for i in ids}
        assert [t for t in __import__("asyncio").run(geolab_tables()) if t in mine] == []


def test_cleanup_reports_when_there_is_nothing(state_dir: Path) -> None:
    assert "nothing to clean up" in geolab("cleanup").stdout
    assert "no lab state" in geolab("status").stdout


def children(pid: int, mentioning: str) -> list[int]:
    """Live child processes of ``pid`` whose command line mentions ``mentioning``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and stat[0] != "Z" and mentioning in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_a_stopped_fleet_run_leaves_no_worker_behind(
    sig: int, state_dir: Path, tmp_path: Path
) -> None:
    """A real fleet split over worker processes: Ctrl-C ends them with the run; a killed
    run's workers notice their parent is gone and end by themselves."""
    storm = Path(__file__).parents[2] / "scenarios" / "registration-storm.yaml"
    runner = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", str(storm), "--backend", "embedded",
         "--fleet-size", "200", "--report-dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while len(workers := children(runner.pid, "spawn_main")) < 2:
            assert time.monotonic() < deadline and runner.poll() is None, "no fleet workers"
            time.sleep(0.05)
        time.sleep(1.0)  # into the storm: the outage begins at 2 s
        os.kill(runner.pid, sig)
        runner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(w) for w in workers)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        geolab("down", "--all")  # the sites a killed run leaves to its state file
    assert list(state_dir.glob("*.json")) == []
