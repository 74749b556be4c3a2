"""Live progress on the terminal: each drill's steps, its connections' statuses, failed
expectations and errors, its verdict, and the run's tally (rich; NO_COLOR kept)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from endpoint.core.events import ConnectionStatusChanged
from lab.report.fleettext import fleet_lines
from lab.stream.events import (
    EndpointEvent,
    Event,
    ExpectationChecked,
    FleetMeasured,
    RunErrored,
    RunFinished,
    RunNotApplicable,
    RunStarted,
    StepStarted,
)
from lab.stream.handlers import RunContext


def esc(text: object) -> str:
    """Text from a run, made safe to print as rich markup (``[x]`` stays literal)."""
    from rich.markup import escape

    return escape(str(text))


class ConsoleReport:
    """``quiet`` keeps only each drill's name and verdict and the tally."""

    def __init__(self, quiet: bool = False) -> None:
        from rich.console import Console as RichConsole

        self.out = RichConsole(no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        self.quiet = quiet
        self.prefix: dict[int, str] = {}
        self.status: dict[int, dict[Any, str]] = {}
        self.verdicts: dict[int, str] = {}  # PASS, FAIL, N/A
        self.lacking: set[int] = set()

    def print(self, drill: int, text: str) -> None:
        """``text`` is markup: anything taken from a run goes through :func:`esc` first."""
        self.out.print(f"{esc(self.prefix.get(drill, ''))}{text}")

    def start(self, ctx: RunContext) -> None:
        self.verdicts = {}
        self.lacking = set()

    def handle(self, ctx: RunContext, drill: int, event: Event) -> None:
        if isinstance(event, RunStarted):
            tag = Path(event.source).stem + (f"/{event.driver}" if event.driver != "inprocess"
                                             else "")  # fmt: skip
            self.prefix[drill] = f"[{tag}] " if ctx.parallel else ""
            self.print(drill, f"[bold]{esc(event.name)}[/bold]  ({esc(event.source)})")
        elif isinstance(event, RunNotApplicable):
            self.lacking.add(drill)
            for reason in event.reasons:
                self.print(drill, f"  [yellow]not applicable: {esc(reason)}[/yellow]")
        elif isinstance(event, RunFinished):
            if drill in self.lacking:
                self.verdicts[drill] = "N/A"
                self.print(drill, "  [yellow]N/A[/yellow] (not run)")
                return
            self.verdicts[drill] = "PASS" if event.passed else "FAIL"
            verdict = "[green]PASS[/green]" if event.passed else "[red]FAIL[/red]"
            self.print(drill, f"  {verdict} in {event.duration:.1f}s")
        elif not self.quiet:
            self._progress(drill, event)

    def _progress(self, drill: int, event: Event) -> None:
        stamp = f"  [dim]{event.t:7.3f}s[/dim]"
        if isinstance(event, StepStarted):
            self.print(
                drill, f"{stamp} step {event.index + 1} (line {event.line}): {esc(event.action)}"
            )
        elif isinstance(event, EndpointEvent) and isinstance(event.event, ConnectionStatusChanged):
            status = self.status.setdefault(drill, {})
            status[event.event.connection] = str(event.event.status)
            lanes = "  ".join(f"conn {c}: {s}" for c, s in sorted(status.items()))
            self.print(drill, f"{stamp}   {esc(lanes)}")
        elif isinstance(event, ExpectationChecked) and not event.passed:
            self.print(
                drill,
                f"  [red]✘ line {event.line}: expected {esc(event.expected)}; "
                f"observed {esc(event.observed)}[/red]",
            )
        elif isinstance(event, RunErrored):
            self.print(drill, f"  [red]error: {esc(event.message)}[/red]")
        elif isinstance(event, FleetMeasured):
            for line in fleet_lines(event.fields()):
                self.print(drill, f"{stamp}   {esc(line)}")

    def finish(self, ctx: RunContext) -> None:
        verdicts = list(self.verdicts.values())
        passed, lacking = verdicts.count("PASS"), verdicts.count("N/A")
        where = ""
        if ctx.folder is not None and ctx.written:
            names = ", ".join(p.name for p in ctx.written.values())
            where = f"; reports in {esc(ctx.folder)}/ ({esc(names)})"
        na = f" ({lacking} not applicable, not run)" if lacking else ""
        self.out.print(f"{passed}/{len(verdicts) - lacking} scenarios passed{na}{where}")
