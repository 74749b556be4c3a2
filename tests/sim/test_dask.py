"""A simulated storm on a real Dask cluster: a scheduler and two workers started on
loopback (and ended by process group), the storm's shards run there, and the storm is the
one the local run gives, figure for figure."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from endpoint.config import ConnectionSettings
from lab.cli.main import main
from lab.errors import LabError
from lab.fleet.meter import FleetPlan
from lab.sim.storm import simulate_fleet
from lab.system.net import allocate_address, free_port
from lab.system.procs import wait_group_gone

distributed = pytest.importorskip("distributed")
ROOT = Path(__file__).parents[2]


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    with log.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=out,
                                stdin=subprocess.DEVNULL, start_new_session=True, env=env)  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``dask scheduler`` and two ``dask worker`` processes, all bound to one 127.x address."""
    folder = tmp_path_factory.mktemp("dask")
    host = allocate_address()
    port = free_port(host)
    address = f"tcp://{host}:{port}"
    procs = [_start(["distributed.cli.dask_scheduler", "--host", host, "--port", str(port),
                     "--no-dashboard", "--no-show"], folder / "scheduler.log")]  # fmt: skip
    for n in range(2):
        procs.append(_start(["distributed.cli.dask_worker", address, "--host", host,
                             "--nthreads", "1", "--no-nanny", "--no-dashboard",
                             "--name", f"w{n}"], folder / f"worker{n}.log"))  # fmt: skip
    try:
        client = distributed.Client(address, timeout=30)
        try:
            client.wait_for_workers(2, timeout=60)
        finally:
            client.close()
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
            gone = asyncio.run(wait_group_gone(proc.pid, 5.0))
            assert gone, f"process group {proc.pid} outlived the test"


PLAN = FleetPlan(2500, settings=ConnectionSettings(reg_interval=60, retry_interval=10, transaction_timeout=4),
                 outage_at=30, outage_for=20, settle=60, boot=10, seed=5)  # fmt: skip


def test_the_storm_on_dask_is_the_local_storm(cluster: str) -> None:
    local, local_totals = simulate_fleet(PLAN, workers=1)
    remote, remote_totals = simulate_fleet(PLAN, workers=1, cluster=cluster)
    assert local.recovery and len(local.recovery) + local.unrecovered == PLAN.endpoints
    assert remote.recovery == local.recovery
    assert remote.load == local.load and remote.unrecovered == local.unrecovered
    assert (remote_totals.messages, remote_totals.steps) == (
        local_totals.messages, local_totals.steps
    )  # fmt: skip
    client = distributed.Client(cluster, timeout=10)
    try:  # the shards ran there: each worker has the storm's module loaded
        loaded = client.run(lambda: "lab.sim.storm" in sys.modules)
    finally:
        client.close()
    assert list(loaded.values()) == [True, True]


def test_geolab_run_puts_a_fleet_drill_on_the_cluster(cluster: str, tmp_path: Path) -> None:
    drill = tmp_path / "storm.yaml"
    drill.write_text(
        "name: a storm on the cluster\nmode: sim\ntopology: {sites: [a, b]}\n"
        "fleet:\n  endpoints: 2000\n  reg_interval: 60\n  retry_interval: 10\n"
        "  transaction_timeout: 4\n  boot: 10s\n  outage: {site: a, kind: kill, at: 30s, for: 20s}\n"
        "  settle: 60s\n  expect: {unrecovered_at_most: 0, p99_within: retry_interval + transaction_timeout + 10s}\n"
    )
    assert main(["run", str(drill), "-q", "--cluster", cluster,
                 "--report-dir", str(tmp_path / "r")]) == 0  # fmt: skip


def test_a_cluster_address_is_checked() -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "scenarios/registration-storm.yaml", "--cluster", "http://x:1"])
    assert info.value.code == 2
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        simulate_fleet(FleetPlan(10), cluster="tcp://127.0.0.1:99999")


def test_no_scheduler_is_a_lab_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lab.sim.executors.CONNECT_TIMEOUT", 1.0)
    host = allocate_address()
    with pytest.raises(LabError, match="no Dask scheduler answers"):
        simulate_fleet(FleetPlan(10), cluster=f"tcp://{host}:{free_port(host)}")
