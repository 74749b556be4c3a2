"""The runner's verdicts are real: a drill that cannot pass fails, saying what was expected,
what was observed and where; reports carry it; CLI exit codes follow."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.report import write_reports
from lab.report.timeline import read_timeline
from lab.run.runner import run_scenario
from lab.stream.results import ScenarioResult

pytestmark = pytest.mark.interop

FAILING = """\
name: a drill that must fail
endpoint:
  connections:
    - {site: a, reg_interval: 60, keepalive: options, keepalive_interval: 0.5, keepalive_timeout: 0.5}
    - {site: b, reg_interval: 60}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - fault: {kind: kill, site: a}
  - expect: {event: ConnectionStatusChanged, connection: 1, status: Unavailable}
    within: 1s
  - heal: all
invariants:
  - never: {event: ConnectionStatusChanged, connection: 0, status: Unavailable}
"""


def test_failing_drill_says_expected_observed_and_where(tmp_path: Path) -> None:
    path = tmp_path / "fail.yaml"
    path.write_text(FAILING)
    result = asyncio.run(run_scenario(load_scenario(path), backend="embedded"))
    assert not result.passed
    step_failure, never_failure = result.failures
    assert step_failure.line == 10 and step_failure.step == 2
    assert (
        "ConnectionStatusChanged connection=1 status=Unavailable within 1.000s"
        in step_failure.expected
    )
    assert never_failure.expected.startswith(
        "never: ConnectionStatusChanged connection=0 status=Unavailable"
    )
    assert "status=Unavailable" in never_failure.observed  # the offending event itself
    kinds = {e.KIND for e in result.events}
    assert {"run_start", "step_start", "lab", "endpoint", "sip", "expectation", "run_end"} <= kinds

    reports = write_reports(
        tmp_path / "r", {"id": "t", "seed": 0, "mode": "real", "backend": "embedded"}, [result]
    )
    case = ET.parse(reports["junit"]).getroot().find("testcase")
    assert case is not None and case.find("failure") is not None
    assert f"{path}:10: expected" in (case.find("failure").text or "")  # type: ignore[union-attr]
    html = reports["html"].read_text()
    assert (
        'class="lane" data-connection="0"' in html
        and 'class="fault"' in html
        and 'class="failed"' in html
    )
    assert "**FAIL**" in reports["markdown"].read_text()
    meta, again = read_timeline(reports["timeline"])
    assert meta["id"] == "t" and ScenarioResult.of(again[0]).failures[0].line == 10


def geolab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lab.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        check=False,
    )


def test_cli_exit_codes(tmp_path: Path) -> None:
    good = Path(__file__).parents[2] / "scenarios" / "both-sites-register.yaml"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - fault: {kind: kill, site: z}\n")
    failing = tmp_path / "failing.yaml"
    failing.write_text(FAILING)
    assert geolab("validate", str(good)).returncode == 0
    invalid = geolab("validate", str(bad))
    assert (
        invalid.returncode == 2
        and f"{bad}:3: steps[0].fault.site: unknown site 'z'" in invalid.stderr
    )
    assert "Traceback" not in invalid.stderr
    assert geolab("run", str(bad), "--report-dir", str(tmp_path / "r")).returncode == 2
    zero = geolab("run", str(good), "--fleet-size", "0")
    assert zero.returncode == 2 and "must be at least 1" in zero.stderr
    ran = geolab("run", str(good), "--backend", "embedded", "--report-dir", str(tmp_path / "r"))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    failed = geolab(
        "run", str(failing), "--backend", "embedded", "--report-dir", str(tmp_path / "f")
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    timelines = list((tmp_path / "f").glob("*/timeline.json"))
    assert len(timelines) == 1, failed.stdout + failed.stderr
    (timeline,) = timelines
    assert json.loads(timeline.read_text())["scenarios"][0]["passed"] is False
    (timeline.parent / "report.html").unlink()
    assert geolab("report", str(timeline)).returncode == 0
    assert (timeline.parent / "report.html").exists()
    assert geolab("report", str(tmp_path / "nope.json")).returncode == 2


def test_pytest_plugin_collects_and_reports_scenarios(pytester: pytest.Pytester) -> None:
    pytester.makefile(
        ".yaml",
        good=(Path(__file__).parents[2] / "scenarios" / "both-sites-register.yaml").read_text(),
        failing=FAILING,
        broken="name: x\nsteps:\n  - dail: 1\n",
    )
    pytester.makefile(".yaml", notascenario="just: data\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--lab-backend", "embedded", "-v"
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*broken.yaml:3: steps[[]0[]].dail: unknown field*",
            "*failing.yaml:10: expected ConnectionStatusChanged connection=1 status=Unavailable*",
        ]
    )
    assert "notascenario" not in result.stdout.str()


def test_pytest_plugin_fixtures_for_drills_in_python(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_drill="""
        import asyncio
        from endpoint.aio.phone import AsyncPhone
        from endpoint.core.events import ConnectionStatusChanged, ConnectionStatus

        def test_kill_a(lab, lab_sites, lab_endpoint_config):
            assert set(lab_sites) == {"a", "b"}

            def conn0(status):
                return lambda e: (isinstance(e, ConnectionStatusChanged) and e.connection == 0
                                  and e.status is status)

            async def main():
                cfg = lab_endpoint_config.model_copy(update={"connections": [
                    c.model_copy(update={"keepalive": "options", "keepalive_interval": 0.5,
                                         "keepalive_timeout": 0.5})
                    for c in lab_endpoint_config.connections]})
                async with AsyncPhone(cfg) as phone:
                    await phone.wait_for(conn0(ConnectionStatus.AVAILABLE), 5)
                    async with lab.fault("kill", "a"):
                        await phone.wait_for(conn0(ConnectionStatus.UNAVAILABLE), 5)

            asyncio.run(main())
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--lab-backend", "embedded")
    result.assert_outcomes(passed=1)


def test_console_prints_run_text_literally(tmp_path: Path) -> None:
    """Names and messages are printed as they are, even when they look like markup."""
    drill = tmp_path / "markup.yaml"
    drill.write_text(
        'name: "site [/dim] down [bold]"\n'
        "mode: sim\n"
        "endpoint:\n  connections:\n    - {site: a, reg_interval: 60}\n"
        "steps:\n"
        "  - expect: {event: ConnectionStatusChanged, connection: 0, status: Disabled}\n"
        "    within: 1s\n"
    )
    ran = geolab("run", str(drill), "--report-dir", str(tmp_path / "r"))
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "Traceback" not in ran.stderr
    assert "site [/dim] down [bold]" in ran.stdout


def test_a_real_fleet_is_not_capped_by_the_open_files_limit(tmp_path: Path) -> None:
    """The fleet's endpoints share one socket: 400 of them (800 registrations) run and
    recover under a limit of 300 open files."""
    import resource

    storm = Path(__file__).parents[2] / "scenarios" / "registration-storm.yaml"

    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (300, 300))

    ran = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "run", str(storm), "--backend", "embedded",
         "--fleet-size", "400", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120, preexec_fn=few_files, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (timeline,) = tmp_path.glob("*/timeline.json")
    (scenario,) = json.loads(timeline.read_text())["scenarios"]
    (fleet,) = [e["data"] for e in scenario["events"] if e["kind"] == "fleet"]
    assert fleet["endpoints"] == 400 and fleet["unrecovered"] == 0


def test_running_out_of_sockets_is_a_lab_error_naming_the_limit() -> None:
    """A phone that cannot have its TCP socket says why (the open-files limit), as an
    OSError the runner reports as a lab error rather than a traceback."""
    probe = (
        "import asyncio, errno, resource, socket\n"
        "from endpoint.aio.sockets import Sockets\n"
        "async def main():\n"
        "    with socket.socket() as probe:  # the lowest free descriptor: room for one\n"
        "        room = probe.fileno() + 1\n"
        "    resource.setrlimit(resource.RLIMIT_NOFILE, (room, room))\n"
        "    s = Sockets('127.0.0.1', 0, ('udp', 'tcp'), on_message=print, on_failure=print)\n"
        "    try:\n"
        "        await s.start()\n"
        "    except OSError as exc:\n"
        "        print(exc.errno == errno.EMFILE, exc)\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("True") and "open files limit" in ran.stdout, ran.stdout
