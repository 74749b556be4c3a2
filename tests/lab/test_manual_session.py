"""A manual drill ends in a report: ``geolab up --record``, geolab's phone registered on
both sites, site A killed and brought back by hand, ``geolab down`` — the report folder an
automated drill writes (ladder, timeline, JUnit, metrics, pcap), its DR figures read off
the wire: A's connection seen failing after the kill, within the phone's transaction time
and retry interval, and registered again after the heal; B's never failing. ``--expect``
grades the session against a drill file's invariants (exit 1 when one fails; a file with
steps is invalid input, said before anything is brought down)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged
from lab.system.procs import processes_mentioning

from .test_cli import geolab

pytestmark = pytest.mark.interop
TIMEOUT, RETRY, RENEW = 1.0, 0.5, 1.0  # the phone's transaction time, retry, renewal (s)
EXPECT = """name: what the session must show
topology: {sites: [a, b]}
invariants:
  - never: {event: ConnectionStatusChanged, connection: 1, status: Unavailable}
  - never: {event: ConnectionStatusChanged, connection: 0, status: Unavailable}
  - check: one_event_per_change
endpoint:
  connections:
    - {site: a}
    - {site: b}
"""


def _targets(up: str) -> dict[str, tuple[str, int]]:
    out = {}
    for line in up.splitlines():
        if "endpoint target (fault proxy):" in line:
            site = line.split("site ")[1].split(":")[0]
            host, port = line.split("(fault proxy): ")[1].split(",")[0].split(":")
            out[site] = (host, int(port))
    return out


async def _drill(targets: dict[str, tuple[str, int]]) -> None:
    config = EndpointConfig(connections=[
        ConnectionConfig(id=n, user="5001", server=host, port=port, domain=f"{site}.geolab.test",
                         reg_interval=RENEW, retry_interval=RETRY, transaction_timeout=TIMEOUT)
        for n, (site, (host, port)) in enumerate(sorted(targets.items()))])  # fmt: skip
    def status(conn: int, status: ConnectionStatus) -> Callable[[object], bool]:
        return lambda e: (isinstance(e, ConnectionStatusChanged) and e.connection == conn
                          and e.status is status)  # fmt: skip

    async with AsyncPhone(config) as phone:
        await phone.wait_for(status(0, ConnectionStatus.AVAILABLE), 10)
        await phone.wait_for(status(1, ConnectionStatus.AVAILABLE), 10)
        await asyncio.to_thread(geolab, "fault", "kill", "a")
        await phone.wait_for(status(0, ConnectionStatus.UNAVAILABLE), 10)
        await asyncio.to_thread(geolab, "heal")
        await phone.wait_for(status(0, ConnectionStatus.AVAILABLE), 10)


def test_a_recorded_manual_drill_ends_in_the_report_an_automated_one_writes(
    state_dir: Path, tmp_path: Path
) -> None:
    up = geolab("up", "--record", "--backend", "embedded")
    workdir = up.stdout.split("journal in ")[1].split()[0]
    expect = tmp_path / "expect.yaml"
    expect.write_text(EXPECT)
    with_steps = tmp_path / "steps.yaml"
    with_steps.write_text(EXPECT + "steps:\n  - sleep: 1s\n")
    try:
        asyncio.run(_drill(_targets(up.stdout)))
        # a file with steps grades no session: said with its line, and the lab stays up
        bad = geolab("down", "--expect", str(with_steps), check=False)
        assert bad.returncode == 2 and f"{with_steps}:11: steps:" in bad.stderr, bad.stderr
        assert ": up" in geolab("status").stdout
    finally:
        down = geolab("down", "--report-dir", str(tmp_path / "reports"), "--expect",
                      str(expect), check=False)  # fmt: skip
    assert "the session's report:" in down.stdout
    # graded: B's connection never failed (PASS); A's did (FAIL): exit 1
    assert down.returncode == 1, down.stdout + down.stderr
    assert f"PASS {expect}:4: never: ConnectionStatusChanged connection=1" in down.stdout
    assert f"FAIL {expect}:5: never: ConnectionStatusChanged connection=0" in down.stdout
    assert f"PASS {expect}:6: exactly one event per status change" in down.stdout
    (folder,) = (tmp_path / "reports").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert {"report.html", "timeline.json", "junit.xml", "summary.md", "metrics.txt",
            "session.pcap"} <= names  # fmt: skip
    assert (folder / "session.pcap").stat().st_size > 24  # its header, and packets
    data = json.loads((folder / "timeline.json").read_text())
    (session,) = data["scenarios"]
    assert session["passed"] is False and len(session["expectations"]) == 3
    kinds = [e["kind"] for e in session["events"]]
    assert "sip" in kinds and kinds.count("lab") >= 4  # sites up, the kill, the heal
    statuses = [(e["data"]["connection"], e["data"]["status"]) for e in session["events"]
                if e["kind"] == "endpoint"]  # fmt: skip
    assert [s for c, s in statuses if c == 0][:3] == ["Registering", "Available", "Unavailable"]
    assert [s for c, s in statuses if c == 0][-1] == "Available"
    assert [s for c, s in statuses if c == 1] == ["Registering", "Available"]
    junit = (folder / "junit.xml").read_text()
    detection = float(junit.split('name="dr.outage1.detection_s" value="')[1].split('"')[0])
    # the renewal after the kill, its timeout, then the retry the wire dates the failure by
    assert TIMEOUT - 0.1 <= detection <= RENEW + TIMEOUT + RETRY + 1.0
    assert 'name="dr.outage1.recovery_s"' in junit
    assert "site a" in (folder / "report.html").read_text()
    assert processes_mentioning(workdir) == []
