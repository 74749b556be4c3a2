"""Writing every report of a run into ``reports/<run id>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lab.report.html import write_html
from lab.report.junit import write_junit
from lab.report.markdown import write_markdown
from lab.report.timeline import write_timeline
from lab.run.events import ScenarioResult


def write_reports(
    folder: Path, meta: dict[str, Any], results: list[ScenarioResult]
) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "timeline": folder / "timeline.json",
        "junit": folder / "junit.xml",
        "html": folder / "report.html",
        "markdown": folder / "summary.md",
    }
    write_timeline(paths["timeline"], meta, results)
    write_junit(paths["junit"], meta, results)
    write_html(paths["html"], meta, results)
    write_markdown(paths["markdown"], meta, results)
    return paths
