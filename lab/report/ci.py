"""What a CI system reads besides the report folder, written when the run ends: GitHub's
job summary (the run's ``summary.md`` appended to ``$GITHUB_STEP_SUMMARY`` when it is set)
and one failure annotation per failed expectation, at its drill file's line (GitHub's
``::error`` workflow command, on stdout, when ``GITHUB_ACTIONS`` is ``true``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from lab.stream.handlers import Collector, RunContext
from lab.stream.results import ScenarioResult


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def error_annotations(results: list[ScenarioResult]) -> list[str]:
    """``::error file=F,line=L,title=T::what`` for each failed expectation (and each
    error of a drill, at its first line)."""
    out = []
    for r in results:
        if r.not_applicable or r.verdict != "FAIL":
            continue
        where = f"file={_property(r.source or r.name)}"
        title = _property(f"{r.name} ({r.driver})")
        for e in r.failures:
            line = f",line={e.line}" if e.line else ""
            out.append(f"::error {where}{line},title={title}::"
                       f"{_data(f'expected {e.expected}; observed {e.observed}')}")  # fmt: skip
        out += [f"::error {where},title={title}::{_data(err)}" for err in r.errors]
    return out


class CiOutputs(Collector):
    """After the file reports (it reads the Markdown summary they wrote)."""

    def __init__(self, env: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
        super().__init__()
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.out = out

    def finish(self, ctx: RunContext) -> None:
        summary_file = self.env.get("GITHUB_STEP_SUMMARY")
        written = ctx.written.get("markdown")
        if summary_file and written is not None:
            with open(summary_file, "a", encoding="utf-8") as f:
                f.write(written.read_text(encoding="utf-8") + "\n")
        if self.env.get("GITHUB_ACTIONS") == "true":
            out = self.out or sys.stdout
            for line in error_annotations(self.results()):
                out.write(line + "\n")
            out.flush()
