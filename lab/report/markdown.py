"""A Markdown summary, fit for a CI job summary."""

from __future__ import annotations

from typing import Any

from lab.report.base import FileReport
from lab.report.fleettext import fleet_lines
from lab.stream.results import ScenarioResult


def md(value: object) -> str:
    """Text from a run as Markdown that renders as that text: no HTML, no table breaks."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    for ch, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(ch, entity)
    return text.replace("`", "'")


def render_markdown(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    passed = sum(r.passed for r in results)
    sim = " (simulated)" if meta.get("mode") == "sim" else ""
    lines = [
        f"## geolab run {md(meta.get('id', ''))}{sim}: {passed}/{len(results)} passed",
        "",
        f"seed {md(meta.get('seed'))} · backend {md(meta.get('backend'))}",
        "",
        "| scenario | verdict | duration | expectations |",
        "| --- | --- | --- | --- |",
    ]
    for r in results:
        verdict = "PASS" if r.passed else "**FAIL**"
        ok = sum(e.passed for e in r.expectations)
        total = len(r.expectations)
        lines.append(f"| {md(r.name)} | {verdict} | {r.duration:.1f}s | {ok}/{total} |")
    for r in results:
        fleet = r.fleet.fields() if r.fleet is not None else None
        if fleet is not None:
            lines += ["", f"### {md(r.name)}: registration storm", "", "```"]
            lines += fleet_lines(fleet)
            lines += ["```"]
    for r in results:
        if r.passed:
            continue
        lines += ["", f"### {md(r.name)}", ""]
        lines += [
            f"- `{md(r.source)}:{md(e.line)}` expected {md(e.expected)}; observed {md(e.observed)}"
            for e in r.failures
        ]
        lines += [f"- error: {md(err)}" for err in r.errors]
    return "\n".join(lines) + "\n"


class MarkdownReport(FileReport):
    """``summary.md``: fit for a CI job summary."""

    name, filename = "markdown", "summary.md"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_markdown(meta, results)
