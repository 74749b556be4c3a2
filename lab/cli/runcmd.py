"""``geolab run | validate | report``: drills from scenario files."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from lab.cli.common import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_LAB_ERROR,
    EXIT_PASS,
    checkpoint,
    cluster_address,
    positive,
    run_async,
)
from lab.drill import Scenario, ScenarioError, load_all, validate_files
from lab.drivers import REGISTRY
from lab.errors import Problem
from lab.report import file_reports, replay_reports
from lab.report.ci import CiOutputs
from lab.report.compare import compare, load_run, render
from lab.report.console import ConsoleReport
from lab.report.history import HistoryError, load_history, render_history
from lab.report.timeline import read_timeline
from lab.run.runner import run_scenario
from lab.stream.handlers import RunContext, Stream
from lab.stream.results import ScenarioResult


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
    problems = validate_files(paths, mode=args.mode, backend=args.backend)
    if not paths:
        problems = [Problem(" ".join(args.paths), 1, "", "no scenario file (*.yaml, *.yml) here")]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_INVALID
    print(f"{len(paths)} scenario file(s) valid")
    return EXIT_PASS


Job = tuple[int, Scenario, str | None]  # drill index, drill, driver (None: the drill's)


async def run_all(
    jobs: list[Job], args: argparse.Namespace, stream: Stream
) -> list[ScenarioResult]:
    """Run the drills, ``args.workers`` at a time (each with its own lab)."""
    gate = asyncio.Semaphore(max(1, args.workers))
    matrix = len(args.driver or []) > 1

    async def one(drill: int, scenario: Scenario, driver: str | None) -> ScenarioResult:
        folder = stream.ctx.folder
        stem = Path(scenario.source).stem + (f"-{driver}" if matrix else "")
        async with gate:
            return await run_scenario(
                scenario, backend=args.backend, seed=args.seed, driver=driver,
                capture=folder / f"{stem}.pcap" if folder else None,
                endpoint_command=shlex.split(args.endpoint_command)
                if args.endpoint_command else None, listeners=[stream.listener(drill)],
                endpoint_page=args.page_path,
            )  # fmt: skip

    return list(await asyncio.gather(*(one(i, s, d) for i, s, d in jobs)))


def cmd_run(args: argparse.Namespace) -> int:
    args.page_path = Path(args.endpoint_page).absolute() if args.endpoint_page else None
    paths = scenario_paths(args.paths)
    drivers: list[str | None] = list(dict.fromkeys(args.driver)) if args.driver else [None]
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for driver in drivers:  # a drill-by-endpoint matrix when several drivers are named
        loaded, wrong = load_all(paths, mode=args.mode, backend=args.backend, driver=driver)
        scenarios = scenarios or loaded
        problems += [p for p in wrong if p not in problems]
    if not paths:
        problems = [Problem(" ".join(args.paths), 1, "", "no scenario file (*.yaml, *.yml) here")]
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    checkpoint()  # a stop asked for while the drills were read: nothing has started
    for scenario in scenarios:
        if args.mode:
            scenario.mode = args.mode
        if args.fleet_size and scenario.fleet is not None:  # the storm at another size
            scenario.fleet.endpoints = scenario.fleet.real_endpoints = args.fleet_size
        if args.cluster and scenario.fleet is not None:  # its simulated shards on Dask
            scenario.fleet.cluster = args.cluster
    run_id = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    meta = {
        "id": run_id,
        "seed": args.seed,
        "mode": args.mode or ("sim" if all(s.mode == "sim" for s in scenarios) else "real"),
        "backend": args.backend or "per scenario",
        "started": time.time(),
    }
    jobs: list[Job] = [
        (n, s, d) for n, (s, d) in enumerate((s, d) for s in scenarios for d in drivers)
    ]
    ctx = RunContext(meta, drills=len(jobs), folder=Path(args.report_dir) / run_id,
                     parallel=args.workers > 1 or len(drivers) > 1)  # fmt: skip
    console = ConsoleReport(quiet=args.quiet)
    stream = Stream(ctx, [*file_reports(), CiOutputs(), console])
    stream.start()
    real = [job for job in jobs if job[1].mode == "real"]
    results: dict[int, ScenarioResult] = {}
    if real:
        results.update(zip([n for n, _, _ in real], run_async(run_all(real, args, stream)),
                           strict=True))  # fmt: skip
    for job in jobs:
        if job[1].mode == "sim":  # virtual time: each in its own loop, one after the other
            checkpoint()
            (results[job[0]],) = run_async(run_all([job], args, stream), mode="sim")
    checkpoint()  # no report is written for a run that was asked to stop
    stream.finish()
    if args.check_determinism and not _deterministic(jobs, results, args):
        return EXIT_FAILED
    if any(e.startswith("lab error:") for r in results.values() for e in r.errors):
        return EXIT_LAB_ERROR  # the lab could not do what a drill asked: no verdict
    # a drill not applicable to its driver was not run: it neither passes nor fails
    failed = [r for r in results.values() if r.verdict == "FAIL"]
    return EXIT_FAILED if failed else EXIT_PASS


def _deterministic(jobs: list[Job], results: dict[int, ScenarioResult],
                   args: argparse.Namespace) -> bool:  # fmt: skip
    """Each simulated drill once more with the same seed: its timeline must be the same,
    event for event (else the first difference is said)."""
    same = True
    for n, scenario, driver in jobs:
        if scenario.mode != "sim":
            continue
        quiet = Stream(RunContext({}, drills=1, folder=None), [])
        (again,) = run_async(run_all([(0, scenario, driver)], args, quiet), mode="sim")
        first = [e.to_json() for e in results[n].events]
        second = [e.to_json() for e in again.events]
        if first == second:
            continue
        same = False
        at = next((i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b),
                  min(len(first), len(second)))  # fmt: skip
        print(f"geolab: {scenario.source}: not deterministic: with seed {args.seed} its "
              f"second run differs at event {at + 1}:\n  first:  "
              f"{first[at] if at < len(first) else 'nothing'}\n  second: "
              f"{second[at] if at < len(second) else 'nothing'}", file=sys.stderr)  # fmt: skip
    if same:
        print("every simulated drill ran the same twice (deterministic)")
    return same


def cmd_compare(args: argparse.Namespace) -> int:
    """Two runs side by side; exit 1 when the new one regressed."""
    old, new = (Path(p) for p in args.compare)
    try:
        share = percent(args.max_regression)
        runs = [load_run(old), load_run(new)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"geolab: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    changes = compare(*runs, max_regression=share, floor=args.ignore_below)
    text = render(changes, str(old), str(new), max_regression=share)
    print(text, end="")
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "compare.md").write_text(text)
    return EXIT_FAILED if any(c.worse for c in changes) else EXIT_PASS


def percent(text: str) -> float:
    """``20%`` or ``0.2``: a share of at least 0."""
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"--max-regression {text!r}: a share of at least 0 (20% or 0.2)")
    return value


def cmd_history(args: argparse.Namespace) -> int:
    """Runs over time, oldest first: one HTML page (``history.html`` in ``--out``)."""
    try:
        labels, rows = load_history([Path(p) for p in args.history])
    except HistoryError as exc:
        print(f"geolab: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID
    folder = Path(args.out or ".")
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "history.html"
    page.write_text(render_history(labels, rows), encoding="utf-8")
    flaky = [r.key for r in rows if r.flaky]
    print(f"{len(labels)} runs, {len(rows)} drills; flaky: {', '.join(flaky) or 'none'}; "
          f"written {page}")  # fmt: skip
    return EXIT_PASS


def cmd_report(args: argparse.Namespace) -> int:
    if args.history:
        return cmd_history(args)
    if args.compare:
        return cmd_compare(args)
    if not args.timeline:
        print("geolab: invalid input: a timeline (or --compare OLD NEW) is needed",
              file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    timeline = Path(args.timeline)
    out = Path(args.out) if args.out else timeline.parent
    try:
        meta, runs = read_timeline(timeline)
        written = replay_reports(out, meta, runs)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        print(f"geolab: invalid input: cannot read timeline {timeline}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"re-rendered {', '.join(str(p) for p in written.values())}")
    return EXIT_PASS


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
    run.add_argument(
        "--cluster",
        type=cluster_address,
        metavar="tcp://HOST:PORT",
        help="fleet drills in simulation: run the storm's shards on this Dask scheduler's "
        "workers (default: the file's fleet.cluster, else local processes)",
    )
    run.add_argument(
        "--driver",
        action="append",
        choices=list(REGISTRY),
        help="the endpoint under test, default each drill's; named more than once: every "
        "drill on every one, reported as a drill x endpoint matrix. Drivers: "
        + "; ".join(f"{d.name}: {d.summary}" for d in REGISTRY.values()),
    )
    run.add_argument(
        "--endpoint-command",
        metavar="CMD",
        help='the process driver\'s command (default "python -m endpoint"); it gets '
        "--config SipEndpoint.config; for baresip, the baresip binary",
    )
    run.add_argument(
        "--endpoint-page",
        metavar="FILE",
        help="for the page and jssip drivers: a page of your own implementing the page "
        "contract (docs/endpoint-protocol.md, 'A page of your own'), loaded in Chromium",
    )
    run.add_argument("-q", "--quiet", action="store_true")
    run.add_argument(
        "--check-determinism", action="store_true",
        help="run each simulated drill twice with the same seed; fail on any difference "
        "in its timeline",
    )  # fmt: skip
    run.set_defaults(func=cmd_run, holds_signals=True)
    validate = sub.add_parser(
        "validate",
        help="check scenario files without running them",
        epilog="example: geolab validate scenarios/",
    )
    validate.add_argument("paths", nargs="+")
    validate.add_argument(
        "--mode", choices=["real", "sim"], help="check for this mode (default: each drill's)"
    )
    validate.add_argument(
        "--backend",
        choices=["auto", "kamailio", "embedded", "compose"],
        help="check for this site backend (default: each drill's)",
    )
    validate.set_defaults(func=cmd_validate)
    report = sub.add_parser(
        "report",
        help="re-render the reports of a run from its timeline",
        epilog="example: geolab report reports/20261125-101010-42/timeline.json",
    )
    report.add_argument("timeline", nargs="?")
    report.add_argument(
        "--compare", nargs=2, metavar=("OLD", "NEW"),
        help="two runs (timelines or report folders) side by side; exit 1 if NEW regressed",
    )  # fmt: skip
    report.add_argument(
        "--max-regression", default="20%",
        help="how much a DR figure may grow before it is a regression (default 20%%)",
    )  # fmt: skip
    report.add_argument(
        "--ignore-below", type=float, default=0.05, metavar="SECONDS",
        help="a time figure growing by less than this is no regression (default 0.05)",
    )  # fmt: skip
    report.add_argument(
        "--history", nargs="+", metavar="RUN",
        help="runs over time, oldest first (report folders or timelines): history.html in "
        "--out, with verdicts per run, flaky drills and each DR figure as a chart",
    )  # fmt: skip
    report.add_argument("--out", help="folder for the reports (default: the timeline's)")
    report.set_defaults(func=cmd_report)


__all__ = ["ScenarioError", "add_commands"]
