"""``geolab up | fault | heal | status | down | cleanup``: a lab kept up for manual drills."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab.cli.common import EXIT_FAILED, EXIT_INVALID, EXIT_LAB_ERROR, EXIT_PASS
from lab.drill import Scenario, load_scenario
from lab.errors import LabError
from lab.faults.kinds import FaultKind, param_problems
from lab.faults.pcap import write_pcap
from lab.real.cleanup import cleanup
from lab.real.holder import SESSION
from lab.report import write_reports
from lab.run.manual import read_session
from lab.stream.results import ScenarioResult
from lab.system.state import LabState, all_states, runner_alive, state_dir


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(items: list[str]) -> dict[str, Any]:
    params = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"--param wants key=value, got {item!r}")
        params[key] = _value(value)
    return params


def pick(lab_id: str | None) -> LabState:
    states = [s for s in all_states() if s.control and runner_alive(s)]
    if lab_id is not None:
        states = [s for s in states if s.id == lab_id]
    if not states:
        raise LabError(
            "no lab is up" + (f" with id {lab_id}" if lab_id else ""),
            hint="start one with: geolab up",
        )
    if len(states) > 1:
        raise LabError(
            f"several labs are up ({', '.join(s.id for s in states)})", hint="pass --lab ID"
        )
    return states[0]


async def send(state: LabState, cmd: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
    assert state.control is not None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(state.control)
            writer.write(json.dumps(cmd).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
            writer.close()
    except (OSError, TimeoutError) as exc:
        raise LabError(f"lab {state.id} does not answer: {exc!r}", hint="geolab cleanup") from None
    reply: dict[str, Any] = json.loads(line)
    if not reply.get("ok"):
        raise LabError(str(reply.get("error")))
    return reply


def cmd_up(args: argparse.Namespace) -> int:
    config = {
        "sites": args.sites.split(","),
        "backend": args.backend,
        "proxy": not args.no_proxy,
        "password": args.password,
        "seed": args.seed,
        "keep_workdir": True,  # its journal and logs: a manual drill's record (no secrets)
        "record": args.record,  # the session's events and wire: a report at geolab down
    }
    state_dir().mkdir(parents=True, exist_ok=True)
    with (state_dir() / "holder.log").open("ab") as log:  # the lab outlives this command
        proc = subprocess.Popen(  # the config (a password, maybe) on stdin, never on argv
            [sys.executable, "-m", "lab.real.holder", "--config", "-"],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.PIPE,
            start_new_session=True,
        )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdin.write(json.dumps(config).encode())
    proc.stdin.close()
    line = proc.stdout.readline()
    proc.stdout.close()
    try:
        ready = json.loads(line)
    except ValueError:
        print(f"geolab: lab error: the lab did not start (exit {proc.wait()})", file=sys.stderr)
        return EXIT_LAB_ERROR
    if ready.get("event") != "Ready":
        print(f"geolab: lab error: {ready.get('message')}", file=sys.stderr)
        return EXIT_LAB_ERROR
    print(f"lab {ready['id']} is up ({ready['backend']}), logs and journal in {ready['workdir']}")
    for name, site in ready["sites"].items():
        print(f"  site {name}: {site['address']}   endpoint target (fault proxy): {site['target']}"
              + (f", TLS {site['tls_target']}" if site.get("tls_target") else ""))  # fmt: skip
    if ready.get("tls_ca"):
        print(f"  TLS: the sites' certificates chain to the lab's CA {ready['tls_ca']}")
    print(
        "next: geolab fault kill a | geolab fault latency b --param latency=200 | geolab heal | "
        "geolab down"
    )
    return EXIT_PASS


def cmd_fault(args: argparse.Namespace) -> int:
    params = parse_params(args.param)
    problems = param_problems(FaultKind(args.kind), params)
    if problems:  # said here, before the lab is asked
        raise ValueError("; ".join(problems))
    if args.via:
        params["via"] = args.via
    state = pick(args.lab)
    reply = asyncio.run(
        send(state, {"cmd": "fault", "kind": args.kind, "site": args.site, "params": params})
    )
    fault = reply["fault"]
    took = (fault["applied_at"] - fault["requested_at"]) * 1000
    print(
        f"fault {fault['id']}: {fault['kind']} on site {fault['site']} via {fault['via']} "
        f"(took effect in {took:.1f} ms)"
    )
    return EXIT_PASS


def cmd_heal(args: argparse.Namespace) -> int:
    reply = asyncio.run(send(pick(args.lab), {"cmd": "heal", "id": args.id}))
    for fault in reply["healed"]:
        print(f"healed fault {fault['id']}: {fault['kind']} on site {fault['site']}")
    if not reply["healed"]:
        print("nothing to heal")
    return EXIT_PASS


def cmd_status(args: argparse.Namespace) -> int:
    states = all_states()
    if not states:
        print("no lab state on this machine")
    for state in states:
        alive = runner_alive(state)
        print(f"lab {state.id}: {'up' if alive else 'NOT RUNNING (geolab cleanup removes it)'}")
        if alive and state.control:
            status = asyncio.run(send(state, {"cmd": "status"}))
            for name, site in status["sites"].items():
                print(
                    f"  site {name}: {site['state']} at {site['address']}, target {site['target']}"
                )
            for f in status["faults"]:
                print(
                    f"  fault {f['id']}: {f['kind']} {f['site']} via {f['via']} "
                    f"{'healed' if f['healed_at'] is not None else 'ACTIVE'}"
                )
    return EXIT_PASS


def cmd_down(args: argparse.Namespace) -> int:
    expect = load_scenario(args.expect, session=True) if args.expect else None  # (exit 2)
    untrusted: list[str] = []
    states = all_states(untrusted=untrusted)
    for line in untrusted:
        print(f"geolab: not trusted, left alone: {line}", file=sys.stderr)
    # a lab whose runner is a live `geolab run` (no control socket) is that run's own
    running = [s for s in states if not s.control and runner_alive(s)]
    if args.lab:
        targets = [s for s in states if s.id == args.lab]
        if targets and targets[0] in running:
            raise LabError(
                f"lab {args.lab} belongs to a running drill (pid {targets[0].runner_pid})",
                hint="stop that run (Ctrl-C), or geolab cleanup once it is gone",
            )
    elif args.all:
        targets = [s for s in states if s not in running]
    else:
        live = [s for s in states if s.control and runner_alive(s)]
        # nothing up: remove only what runs that are gone left behind
        targets = [pick(None)] if live else [s for s in states if not runner_alive(s)]
    code = EXIT_PASS
    for state in running:
        if state not in targets:
            print(f"lab {state.id} belongs to a running drill (pid {state.runner_pid}): left up")
    if not targets:
        print("no lab to bring down")
    for state in targets:
        if state.control and runner_alive(state):
            asyncio.run(send(state, {"cmd": "down"}))
            deadline = time.monotonic() + 15
            while runner_alive(state) and time.monotonic() < deadline:
                time.sleep(0.05)  # the holder stops its lab and exits
        if state.path.exists():
            for line in asyncio.run(cleanup(state)):
                print(f"  {line}")
        print(f"lab {state.id} is down")
        session = Path(state.workdir) / SESSION
        if session.exists():  # recorded (geolab up --record): the session's report
            folder, result = write_session_report(session, state, Path(args.report_dir), expect)
            print(f"  the session's report: {folder}/ (report.html, timeline.json, "
                  "junit.xml, summary.md, metrics.txt, session.pcap)")  # fmt: skip
            if expect is not None:
                for e in result.expectations:
                    mark = "PASS" if e.passed else "FAIL"
                    print(f"  {mark} {expect.source}:{e.line}: {e.expected}; observed {e.observed}")
                code = max(code, EXIT_PASS if result.passed else EXIT_FAILED)
        elif expect is not None:
            print(f"geolab: lab {state.id} was not recorded (geolab up --record): nothing to "
                  "grade", file=sys.stderr)  # fmt: skip
            code = EXIT_INVALID
    return code


def write_session_report(
    session: Path, state: LabState, reports: Path, expect: Scenario | None = None
) -> tuple[Path, ScenarioResult]:
    """The recorded session as an automated drill's report folder (and its pcap),
    graded against ``expect``'s invariants where given."""
    backend = str(state.info.get("backend", "real"))
    recorded = read_session(session, lab_id=state.id, backend=backend)
    events = recorded.events
    if expect is not None:
        lines = [expect.lines.get(f"invariants[{i}]", 0) for i in range(len(expect.invariants))]
        events = recorded.graded(expect.invariants, lines)
    folder = reports / f"session-{state.id}"
    meta = {"id": f"session-{state.id}", "seed": 0, "mode": "real", "backend": backend,
            "started": state.created}  # fmt: skip
    result = ScenarioResult.of(events)
    write_reports(folder, meta, [result])
    write_pcap(folder / "session.pcap", recorded.wire)
    return folder, result


def cmd_cleanup(args: argparse.Namespace) -> int:
    """Remove what labs whose runner died left behind (processes, rules, containers)."""
    found = False
    untrusted: list[str] = []
    states = all_states(untrusted=untrusted)
    for line in untrusted:
        print(f"geolab: not trusted, left alone: {line}", file=sys.stderr)
    for state in states:
        if runner_alive(state) and not args.force:
            continue
        found = True
        print(f"lab {state.id}:")
        for line in asyncio.run(cleanup(state)) or ["nothing was left running"]:
            print(f"  {line}")
    if not found:
        print("nothing to clean up")
    return EXIT_PASS


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser(
        "up",
        help="start a lab and leave it up for a manual drill",
        epilog="example: geolab up --sites a,b --backend kamailio",
    )
    up.add_argument("--sites", default="a,b", help="site names, comma-separated (default a,b)")
    up.add_argument("--backend", default="auto", help="auto | kamailio | embedded")
    up.add_argument("--no-proxy", action="store_true", help="no fault proxy in front of the sites")
    up.add_argument(
        "--password",
        default=os.environ.get("GEOLAB_SITE_PASSWORD"),
        help="digest auth password for REGISTER (default: $GEOLAB_SITE_PASSWORD, which keeps "
        "it off the command line)",
    )
    up.add_argument("--seed", type=int, default=0)
    up.add_argument(
        "--record", action="store_true",
        help="record the session (the lab's events, the SIP through the fault proxies): "
        "geolab down then writes its report, as an automated drill's",
    )  # fmt: skip
    up.set_defaults(func=cmd_up)
    fault = sub.add_parser(
        "fault",
        help="apply a fault to a site of the lab that is up",
        epilog="examples: geolab fault kill a | geolab fault hang b | "
        "geolab fault latency a --param latency=300 --param jitter=50 | "
        "geolab fault partition b --via kernel",
    )
    fault.add_argument("kind", choices=[k.value for k in FaultKind])
    fault.add_argument("site")
    fault.add_argument("--via", choices=["process", "proxy", "kernel"])
    fault.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    fault.add_argument("--lab")
    fault.set_defaults(func=cmd_fault)
    heal = sub.add_parser(
        "heal", help="heal one fault (by id) or all", epilog="example: geolab heal 2"
    )
    heal.add_argument("id", nargs="?", type=int)
    heal.add_argument("--lab")
    heal.set_defaults(func=cmd_heal)
    status = sub.add_parser("status", help="labs on this machine, their sites and faults")
    status.set_defaults(func=cmd_status)
    down = sub.add_parser(
        "down",
        help="stop a lab that is up and remove all it started",
        epilog="example: geolab down --lab 20261125-101010-1234-1",
    )
    down.add_argument("--lab")
    down.add_argument("--report-dir", default="reports",
                      help="where a recorded session's report goes (default reports/)")
    down.add_argument("--expect", metavar="FILE",
                      help="grade the recorded session against this drill file's invariants "
                      "(no steps; connections numbered as the wire tells them): exit 1 if one "
                      "fails")  # fmt: skip
    down.add_argument("--all", action="store_true")
    down.set_defaults(func=cmd_down)
    clean = sub.add_parser("cleanup", help="remove what killed labs left behind")
    clean.add_argument("--force", action="store_true", help="also labs whose runner still runs")
    clean.set_defaults(func=cmd_cleanup)
