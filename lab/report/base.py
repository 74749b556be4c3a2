"""Reports that render a whole run into one file once its last drill has ended."""

from __future__ import annotations

from typing import Any

from lab.stream.handlers import Collector, RunContext
from lab.stream.results import ScenarioResult


class FileReport(Collector):
    """A handler that keeps the stream and, at ``finish``, writes ``render(meta,
    results)`` to ``<folder>/<filename>`` (noted in ``ctx.written[name]``)."""

    name: str
    filename: str

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        raise NotImplementedError

    def finish(self, ctx: RunContext) -> None:
        if ctx.folder is None:
            return
        ctx.folder.mkdir(parents=True, exist_ok=True)
        path = ctx.folder / self.filename
        path.write_text(self.render(ctx.meta, self.results()), encoding="utf-8")
        ctx.written[self.name] = path
