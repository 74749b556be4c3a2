"""baresip, a real third-party endpoint, graded by the drill library on Kamailio: its
verdict per drill is pinned in ``data/baresip-outcomes.yaml`` (reviewed by hand), so a
change in baresip's grade or in the lab shows up here. Drills it cannot run are "not
applicable": skipped in JUnit, never passed. baresip killed mid-drill is a lab error, and
nothing of it is left running."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.sites.kamailio import kamailio_binary
from lab.system.procs import processes_mentioning

from .pinning import assert_grade_is_pinned
from .test_drivers import killed_at_first_available

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("baresip") is None,
                       reason="baresip is not installed (apt-get install -y baresip-core)"),
]  # fmt: skip
ROOT = Path(__file__).parents[2]


def test_baresip_s_grade_on_the_library_is_the_pinned_one(tmp_path: Path) -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed")
    assert_grade_is_pinned("baresip", tmp_path)


def test_baresip_killed_mid_drill_is_a_lab_error_and_nothing_is_left(tmp_path: Path) -> None:
    result = killed_at_first_available(ROOT / "scenarios" / "site-a-killed-renewal.yaml",
                                       "baresip", tmp_path / "lab")  # fmt: skip
    assert not result.passed
    (error,) = result.errors
    assert error.startswith("lab error: endpoint (driver baresip: baresip) exited (code "), error
    assert "while the drill ran" in error
    assert "baresip is ready" in error  # the tail of its log, in the report
    assert processes_mentioning(str(tmp_path / "lab")) == []


def test_an_endpoint_command_that_is_not_installed_is_a_lab_error(tmp_path: Path) -> None:
    code = main(["run", str(ROOT / "scenarios" / "both-sites-register.yaml"), "--driver",
                 "baresip", "--endpoint-command", "no-such-baresip", "--backend", "embedded",
                 "-q", "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 3
    (folder,) = tmp_path.iterdir()
    (drill,) = json.loads((folder / "timeline.json").read_text())["scenarios"]
    assert "'no-such-baresip' is not installed" in drill["errors"][0]


def test_baresip_answers_a_call_through_the_site_it_came_by(tmp_path: Path) -> None:
    """The library's inbound drill needs a keep-alive; this one does not: a call from a
    party through site B rings on connection 1 and is answered there."""
    drill = tmp_path / "inbound.yaml"
    drill.write_text(
        "name: inbound through B on connection 1\n"
        "endpoint:\n"
        "  connections:\n"
        "    - {site: a, reg_interval: 60}\n"
        "    - {site: b, reg_interval: 60}\n"
        "steps:\n"
        "  - wait_for: {event: ConnectionStatusChanged, connection: 1, status: Available}\n"
        "    within: 5s\n"
        "  - call: {site: b, to: '5001', as: in, hold_ms: 500}\n"
        "  - expect: {event: SessionStatusChanged, session: in, status: Ringing, connection: 1}\n"
        "    within: 3s\n"
        "  - answer: in\n"
        "  - expect: {event: SessionStatusChanged, session: in, status: Established}\n"
        "    within: 2s\n"
        "  - expect: {event: SessionStatusChanged, session: in, status: Disconnected,\n"
        "             reason: RemoteHangup}\n"
        "    within: 3s\n"
    )
    code = main(["run", str(drill), "--driver", "baresip", "--backend", "embedded", "-q",
                 "--report-dir", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
