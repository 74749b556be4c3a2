"""A Markdown summary, fit for a CI job summary."""

from __future__ import annotations

from typing import Any

from lab.report.base import FileReport
from lab.report.fleettext import fleet_lines
from lab.stream.results import ScenarioResult


def render_markdown(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    passed = sum(r.passed for r in results)
    sim = " (simulated)" if meta.get("mode") == "sim" else ""
    lines = [
        f"## geolab run {meta.get('id', '')}{sim}: {passed}/{len(results)} passed",
        "",
        f"seed {meta.get('seed')} · backend {meta.get('backend')}",
        "",
        "| scenario | verdict | duration | expectations |",
        "| --- | --- | --- | --- |",
    ]
    for r in results:
        verdict = "PASS" if r.passed else "**FAIL**"
        ok = sum(e.passed for e in r.expectations)
        lines.append(f"| {r.name} | {verdict} | {r.duration:.1f}s | {ok}/{len(r.expectations)} |")
    for r in results:
        fleet = r.fleet.fields() if r.fleet is not None else None
        if fleet is not None:
            lines += ["", f"### {r.name}: registration storm", "", "```"]
            lines += fleet_lines(fleet)
            lines += ["```"]
    for r in results:
        if r.passed:
            continue
        lines += ["", f"### {r.name}", ""]
        lines += [
            f"- `{r.source}:{e.line}` expected {e.expected}; observed {e.observed}"
            for e in r.failures
        ]
        lines += [f"- error: {err}" for err in r.errors]
    return "\n".join(lines) + "\n"


class MarkdownReport(FileReport):
    """``summary.md``: fit for a CI job summary."""

    name, filename = "markdown", "summary.md"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_markdown(meta, results)
