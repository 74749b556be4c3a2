"""The report handlers of a run, and writing a run's reports into ``reports/<run id>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.report.base import FileReport
from lab.report.html import HtmlReport
from lab.report.junit import JunitReport
from lab.report.markdown import MarkdownReport
from lab.report.metrics import MetricsReport
from lab.report.timeline import TimelineReport
from lab.stream.events import Event
from lab.stream.handlers import Handler, RunContext, replay
from lab.stream.results import ScenarioResult


def file_reports() -> list[FileReport]:
    """Every report written to a folder: timeline, JUnit, HTML, Markdown, OpenMetrics (in
    this order; the console, which writes no file, is the caller's to add)."""
    return [TimelineReport(), JunitReport(), HtmlReport(), MarkdownReport(), MetricsReport()]


def replay_reports(
    folder: Path, meta: dict[str, Any], runs: list[list[Event]], extra: list[Handler] | None = None
) -> dict[str, Path]:
    """Recorded drills (a timeline's) through the file reports (and ``extra``)."""
    ctx = RunContext(meta, drills=len(runs), folder=folder)
    replay(ctx, [*file_reports(), *(extra or [])], runs)
    return ctx.written


def write_reports(
    folder: Path, meta: dict[str, Any], results: list[ScenarioResult]
) -> dict[str, Path]:
    return replay_reports(folder, meta, [r.events for r in results])
