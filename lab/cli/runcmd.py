"""``geolab run | validate | report``: drills from scenario files."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from lab.report import write_reports
from lab.report.fleettext import fleet_lines
from lab.report.timeline import read_timeline
from lab.run.events import RunEvent, ScenarioResult
from lab.run.runner import run_scenario
from lab.scenario import ScenarioError, load_scenario, validate_files
from lab.sim.loop import run as sim_run

EXIT_PASS, EXIT_FAILED, EXIT_INVALID, EXIT_LAB_ERROR = 0, 1, 2, 3


def scenario_paths(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*.y*ml") if q.suffix in (".yaml", ".yml"))
        else:
            found.append(p)
    return found


def cmd_validate(args: argparse.Namespace) -> int:
    paths = scenario_paths(args.paths)
    problems = validate_files(paths)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_INVALID
    print(f"{len(paths)} scenario file(s) valid")
    return EXIT_PASS


def esc(text: object) -> str:
    """Text from a run, made safe to print as rich markup (``[x]`` stays literal)."""
    from rich.markup import escape

    return escape(str(text))


class Console:
    """Live progress: the current step and each connection's status (rich; NO_COLOR kept)."""

    def __init__(self, quiet: bool, prefix: str = "") -> None:
        from rich.console import Console as RichConsole

        self.out = RichConsole(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        self.quiet = quiet
        self.prefix = prefix
        self.status: dict[Any, str] = {}

    def print(self, text: str) -> None:
        """``text`` is markup: anything taken from a run goes through :func:`esc` first."""
        self.out.print(f"{esc(self.prefix)}{text}")

    def __call__(self, event: RunEvent) -> None:
        if self.quiet:
            return
        d = event.data
        if event.kind == "step_start":
            self.print(
                f"  [dim]{event.t:7.3f}s[/dim] step {d['index'] + 1} "
                f"(line {d['line']}): {esc(d['action'])}"
            )
        elif event.kind == "endpoint" and d.get("event") == "ConnectionStatusChanged":
            self.status[d["connection"]] = d["status"]
            lanes = "  ".join(f"conn {c}: {s}" for c, s in sorted(self.status.items()))
            self.print(f"  [dim]{event.t:7.3f}s[/dim]   {esc(lanes)}")
        elif event.kind == "expectation" and not d["passed"]:
            self.print(
                f"  [red]✘ line {d['line']}: expected {esc(d['expected'])}; "
                f"observed {esc(d['observed'])}[/red]"
            )
        elif event.kind == "error":
            self.print(f"  [red]error: {esc(d['message'])}[/red]")
        elif event.kind == "fleet":
            for line in fleet_lines(d):
                self.print(f"  [dim]{event.t:7.3f}s[/dim]   {esc(line)}")


async def run_all(paths: list[Path], args: argparse.Namespace, quiet: bool) -> list[ScenarioResult]:
    """Run the scenarios, ``args.workers`` at a time (each with its own lab), in file order."""
    gate = asyncio.Semaphore(max(1, args.workers))
    parallel = args.workers > 1

    async def one(path: Path) -> ScenarioResult:
        async with gate:
            scenario = load_scenario(path)
            if args.mode:
                scenario.mode = args.mode
            if args.fleet_size and scenario.fleet is not None:  # the storm at another size
                scenario.fleet.endpoints = scenario.fleet.real_endpoints = args.fleet_size
            console = Console(quiet, prefix=f"[{path.stem}] " if parallel else "")
            console.print(f"[bold]{esc(scenario.name)}[/bold]  ({esc(str(path))})")
            result = await run_scenario(
                scenario, backend=args.backend, seed=args.seed, listeners=[console]
            )
            verdict = "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]"
            console.print(f"  {verdict} in {result.duration:.1f}s")
            return result

    return list(await asyncio.gather(*(one(p) for p in paths)))


def cmd_run(args: argparse.Namespace) -> int:
    paths = scenario_paths(args.paths)
    problems = validate_files(paths)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    console = Console(args.quiet)
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    meta = {
        "id": run_id,
        "seed": args.seed,
        "mode": args.mode
        or ("sim" if all(load_scenario(p).mode == "sim" for p in paths) else "real"),
        "backend": args.backend or "per scenario",
        "started": time.time(),
    }
    from lab.cli.main import run_async

    modes = {p: args.mode or load_scenario(p).mode for p in paths}
    real = [p for p in paths if modes[p] == "real"]
    by_path = (
        dict(zip(real, run_async(run_all(real, args, args.quiet)), strict=True)) if real else {}
    )
    for path in paths:
        if modes[path] == "sim":  # virtual time: each in its own loop, one after the other
            (by_path[path],) = sim_run(run_all([path], args, args.quiet))
    results = [by_path[p] for p in paths]
    folder = Path(args.report_dir) / run_id
    written = write_reports(folder, meta, results)
    passed = sum(r.passed for r in results)
    console.out.print(
        f"{passed}/{len(results)} scenarios passed; reports in {esc(folder)}/ "
        f"({', '.join(p.name for p in written.values())})"
    )
    return EXIT_PASS if passed == len(results) else EXIT_FAILED


def cmd_report(args: argparse.Namespace) -> int:
    timeline = Path(args.timeline)
    try:
        meta, results = read_timeline(timeline)
    except (OSError, ValueError, KeyError) as exc:
        print(f"geolab: invalid input: cannot read timeline {timeline}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    out = Path(args.out) if args.out else timeline.parent
    written = write_reports(out, meta, results)
    print(f"re-rendered {', '.join(str(p) for p in written.values())}")
    return EXIT_PASS


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_commands(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run scenario files (or folders of them) against a lab",
        epilog="examples: geolab run scenarios/ | geolab run scenarios/site-a-killed.yaml "
        "--backend embedded --seed 7 --report-dir reports/",
    )
    run.add_argument("paths", nargs="+")
    run.add_argument("--backend", choices=["auto", "kamailio", "embedded", "compose"])
    run.add_argument("--report-dir", default="reports")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--mode", choices=["real", "sim"])
    run.add_argument(
        "-n",
        "--workers",
        type=positive,
        default=1,
        help="scenarios run at once, each with its own lab (default 1)",
    )
    run.add_argument(
        "--fleet-size",
        type=positive,
        metavar="N",
        help="fleet drills: run N endpoints (in either mode) instead of the file's sizes",
    )
    run.add_argument("-q", "--quiet", action="store_true")
    run.set_defaults(func=cmd_run)
    validate = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        epilog="example: geolab validate scenarios/",
    )
    validate.add_argument("paths", nargs="+")
    validate.set_defaults(func=cmd_validate)
    report = sub.add_parser(
        "report",
        help="re-render the reports of a run from its timeline",
        epilog="example: geolab report reports/20261125-101010-42/timeline.json",
    )
    report.add_argument("timeline")
    report.add_argument("--out", help="folder for the reports (default: the timeline's)")
    report.set_defaults(func=cmd_report)


__all__ = ["ScenarioError", "add_commands"]
