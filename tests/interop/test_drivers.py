"""The endpoint under test through its driver: the process driver grades ``python -m
endpoint`` as the in-process phone is graded; what the lab sees on the wire agrees with the
phone's own tap; an endpoint process that misbehaves is a lab error naming the driver, and
nothing of it is left running."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.drivers.control import observed_on_wire
from lab.faults.watch import WireObservation
from lab.run.runner import ScenarioRunner
from lab.sites.kamailio import kamailio_binary
from lab.stream.events import SipObserved
from lab.stream.results import ScenarioResult
from lab.system.procs import processes_mentioning

pytestmark = pytest.mark.interop
LIBRARY = Path(__file__).parents[2] / "scenarios"


def sip_summary(events: list[SipObserved]) -> Counter[tuple[object, ...]]:
    return Counter((e.dir, e.connection, e.method, e.status, e.cseq, e.call_id) for e in events)


@pytest.mark.parametrize(
    ("transport", "backend"),
    [("udp", "embedded"), ("ws", "embedded"), ("ws", "kamailio")],
)
def test_the_wire_record_agrees_with_the_phone_s_own_tap(transport: str, backend: str) -> None:
    """A drill with calls, held and answered: the same SIP messages, both ways, on the
    same connections, whether the phone tells them or the proxy saw them. Over ws the
    proxy reads them inside WebSocket frames (the phone's masked)."""
    if backend == "kamailio" and kamailio_binary() is None:
        pytest.skip("kamailio is not installed (apt-get install -y kamailio)")
    scenario = load_scenario(LIBRARY / "second-line-rings.yaml")
    topology = scenario.topology.model_copy(update={"transport": transport})
    scenario = scenario.model_copy(update={"topology": topology})
    runner = ScenarioRunner(scenario, backend=backend)
    seen: list[SipObserved] = []
    original = runner._on_phone  # the lab exists once the run starts: hook in with it

    def on_phone(event: object) -> None:
        lab = runner._lab
        if lab is not None and record not in lab.wire_observers:
            lab.wire_observers.append(record)
        original(event)  # type: ignore[arg-type]

    def record(o: WireObservation) -> None:
        local = runner.driver.local_address if runner.driver is not None else None
        if local is None or o.client[0] != local[0]:
            return  # the remote parties' own traffic
        e = observed_on_wire(0.0, o, runner._conns.values())
        if e is not None:
            seen.append(e)

    runner._on_phone = on_phone  # type: ignore[method-assign]
    result = asyncio.run(runner.run())
    assert result.passed, [f.observed for f in result.failures] + result.errors
    tapped = [e for e in result.events if isinstance(e, SipObserved)]

    def from_first_call(events: list[SipObserved]) -> list[SipObserved]:
        return events[min(i for i, e in enumerate(events) if e.method == "INVITE") :]

    # from the first INVITE on, both were listening: the same messages, both ways
    mine, theirs = sip_summary(from_first_call(tapped)), sip_summary(from_first_call(seen))
    assert mine == theirs, (mine - theirs, theirs - mine)
    assert any(k[2] == "INVITE" and k[0] == "in" for k in theirs)  # inbound calls seen too
    assert {e.transport for e in seen} == {transport}


def run_with(command: list[str], tmp_path: Path, drill: str = "site-a-killed.yaml") -> object:
    scenario = load_scenario(LIBRARY / drill)
    return asyncio.run(
        ScenarioRunner(scenario, backend="embedded", driver="process", endpoint_command=command,
                       workdir=tmp_path / "lab").run()
    )  # fmt: skip


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["/nonexistent/endpoint"], "cannot start"),
        ([sys.executable, "-c", "import sys; sys.exit(3)"], "exited (code 3)"),
        ([sys.executable, "-c", "print('hello, I am not JSON', flush=True)"], "not a JSON event"),
        ([sys.executable, "-c", "import time; time.sleep(60)"], "did not say Ready"),
    ],
    ids=["not-found", "exits-at-once", "not-json", "never-ready"],
)
def test_an_endpoint_process_that_misbehaves_is_a_lab_error(
    command: list[str], says: str, tmp_path: Path
) -> None:
    result = run_with(command, tmp_path)
    assert not result.passed  # type: ignore[attr-defined]
    (error,) = result.errors  # type: ignore[attr-defined]
    assert error.startswith("lab error: endpoint (driver process: ") and says in error, error
    assert processes_mentioning(str(tmp_path / "lab")) == []


def test_an_endpoint_that_ignores_quit_is_killed_and_that_is_said(tmp_path: Path) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import json, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print(json.dumps({'event': 'Ready', 'local': '127.0.0.1:1'}), flush=True)\n"
        "for line in sys.stdin:\n"
        "    if 'connections' in line:\n"
        "        print(json.dumps({'event': 'Connections', 'connections': []}), flush=True)\n"
        "time.sleep(60)\n"
    )
    result = run_with([sys.executable, str(script)], tmp_path, "both-sites-register.yaml")
    assert any("ignored quit" in e for e in result.errors)  # type: ignore[attr-defined]
    assert processes_mentioning(str(tmp_path / "lab")) == []


def killed_at_first_available(drill: Path, driver: str, workdir: Path) -> ScenarioResult:
    """``drill`` with ``driver``'s endpoint process SIGKILLed once a connection is
    Available: the endpoint dies on its own, mid-drill."""
    runner = ScenarioRunner(load_scenario(drill), backend="embedded", driver=driver,
                            workdir=workdir)  # fmt: skip
    original = runner._on_phone

    def on_phone(event: object) -> None:
        original(event)  # type: ignore[arg-type]
        proc = getattr(runner.driver, "proc", None)
        if getattr(event, "status", None) == "Available" and proc is not None:
            proc.kill()

    runner._on_phone = on_phone  # type: ignore[method-assign]
    return asyncio.run(runner.run())


def test_an_endpoint_killed_mid_drill_fails_it_and_nothing_is_left(tmp_path: Path) -> None:
    result = killed_at_first_available(LIBRARY / "site-a-killed.yaml", "process",
                                       tmp_path / "lab")  # fmt: skip
    assert not result.passed
    assert any("exited (code -9) while the drill ran" in e for e in result.errors), result.errors
    assert processes_mentioning(str(tmp_path / "lab")) == []


def test_a_lab_error_of_the_endpoint_says_where_its_stderr_is(tmp_path: Path) -> None:
    script = tmp_path / "noisy.py"
    script.write_text("import sys\nprint('something broke inside', file=sys.stderr)\nsys.exit(1)\n")
    result = run_with([sys.executable, str(script)], tmp_path)
    (error,) = result.errors  # type: ignore[attr-defined]
    assert "something broke inside" in error  # the tail of its stderr, in the report
