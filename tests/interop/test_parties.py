"""Parties as phones: a callee registers again when its site comes back (a killed site
forgot it), so a dial through the returned site reaches it; one told to stay away does
not, and the dial gets 404 Not Found. On real sites (SIPp behind its registering relay,
or geolab's Python callee) and in virtual time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.run.runner import run_scenario
from lab.sim.loop import run as sim_run
from lab.stream.events import EndpointEvent, PartyChanged

pytestmark = pytest.mark.interop
DRILL = Path(__file__).parents[2] / "scenarios" / "callee-back-with-its-site.yaml"


def outcome(tmp_path: Path, mode: str, *, reregister: bool) -> tuple[bool, list[str], list[str]]:
    text = DRILL.read_text()
    if not reregister:
        text = text.replace('user: "6001"}', 'user: "6001", reregister: false}')
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    if mode == "sim":
        scenario.mode = "sim"
        result = sim_run(run_scenario(scenario, seed=2))
    else:
        result = asyncio.run(run_scenario(scenario, backend=mode))
    reasons = [e.event.reason for e in result.events if isinstance(e, EndpointEvent)
               and getattr(e.event, "session", None) is not None
               and str(e.event.status) == "Disconnected"]  # fmt: skip
    parties = [e.state for e in result.events if isinstance(e, PartyChanged)]
    return result.passed, reasons, parties


@pytest.mark.parametrize("mode", ["embedded", "kamailio", "sim"])
def test_a_callee_registers_again_when_its_site_returns(tmp_path: Path, mode: str) -> None:
    if mode == "kamailio" and not Path("/usr/sbin/kamailio").exists():
        pytest.skip("kamailio is not installed")
    passed, reasons, parties = outcome(tmp_path, mode, reregister=True)
    assert passed and reasons == ["LocalHangup"]
    assert parties == ["started", "registered"]  # again, when site a came back
    passed, reasons, parties = outcome(tmp_path, mode, reregister=False)
    assert not passed and reasons == ["SipError 404 Not Found"]
    assert parties == ["started"]
