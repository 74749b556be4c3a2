"""A Markdown summary, fit for a CI job summary."""

from __future__ import annotations

from typing import Any

from lab.report.base import FileReport
from lab.report.figures import (
    DIAL_HEAD,
    MOVE_HEAD,
    OUTAGE_HEAD,
    SUMMARY_HEAD,
    dial_cells,
    dr_figures,
    move_cells,
    outage_cells,
    summary,
    summary_cells,
)
from lab.report.fleettext import fleet_lines
from lab.report.rules import rules_graded
from lab.stream.events import StepStarted
from lab.stream.results import ScenarioResult


def md(value: object) -> str:
    """Text from a run as Markdown that renders as that text: no HTML, no table breaks."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    for ch, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|")):
        text = text.replace(ch, entity)
    return text.replace("`", "'")


def shrinkable(r: ScenarioResult) -> bool:
    """A failing simulated drill with a nemesis: ``geolab shrink`` can reduce it."""
    nemesis = any(isinstance(e, StepStarted) and e.action == "nemesis" for e in r.events)
    return r.mode == "sim" and r.verdict == "FAIL" and nemesis


def verdict_md(r: ScenarioResult) -> str:
    return {"PASS": "PASS", "FAIL": "**FAIL**"}.get(r.verdict, r.verdict)


def tally(results: list[ScenarioResult]) -> str:
    """``3/5 passed`` (drills not applicable to their driver are not counted: not run)."""
    verdicts = [r.verdict for r in results]
    lacking = verdicts.count("N/A")
    na = f", {lacking} not applicable" if lacking else ""
    return f"{verdicts.count('PASS')}/{len(verdicts) - lacking} passed{na}"


def graded(results: list[ScenarioResult], driver: str) -> str:
    """How the library graded one endpoint: ``12 graded: 9 PASS, 3 FAIL; 5 N/A``."""
    verdicts = [r.verdict for r in results if r.driver == driver]
    lacking = verdicts.count("N/A")
    return (f"{len(verdicts) - lacking} graded: {verdicts.count('PASS')} PASS, "
            f"{verdicts.count('FAIL')} FAIL; {lacking} N/A")  # fmt: skip


def matrix_lines(results: list[ScenarioResult]) -> list[str]:
    """Drills by endpoint (driver), when the run graded more than one."""
    drivers = list(dict.fromkeys(r.driver for r in results))
    if len(drivers) <= 1:
        return []
    cell = {(r.source, r.driver): verdict_md(r) for r in results}
    drills = list(dict.fromkeys((r.source, r.name) for r in results))
    out = ["", "### drills by endpoint", "", "| drill | " + " | ".join(drivers) + " |",
           "| --- |" + " --- |" * len(drivers)]  # fmt: skip
    for source, name in drills:
        row = [cell.get((source, d), "—") for d in drivers]
        out.append(f"| {md(name)} | " + " | ".join(row) + " |")
    out.append("| **each endpoint** | " + " | ".join(graded(results, d) for d in drivers) + " |")
    return out


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
            *("| " + " | ".join(md(c) for c in row) + " |" for row in rows)]  # fmt: skip


def figures_lines(results: list[ScenarioResult]) -> list[str]:
    """Each drill's DR figures, and each endpoint's medians when several were graded."""
    out: list[str] = []
    drivers = list(dict.fromkeys(r.driver for r in results))
    figures = [(r, dr_figures(r.events)) for r in results]
    if len(drivers) > 1:
        rows = [summary_cells(d, summary(f for r, f in figures if r.driver == d))
                for d in drivers]  # fmt: skip
        out += ["", "### DR figures by endpoint", "", *_table(SUMMARY_HEAD, rows)]
    for r, f in figures:
        if not f:
            continue
        who = f" ({md(r.driver)})" if len(drivers) > 1 else ""
        out += ["", f"#### DR figures: {md(r.name)}{who}", ""]
        if f.outages:
            out += _table(OUTAGE_HEAD, [outage_cells(o) for o in f.outages])
        if f.dials:
            out += ["", *_table(DIAL_HEAD, [dial_cells(d) for d in f.dials])]
        if f.moves:
            out += ["", *_table(MOVE_HEAD, [move_cells(m) for m in f.moves])]
    return out


def rules_lines(results: list[ScenarioResult]) -> list[str]:
    """Verdicts by the rule they grade, per endpoint (lab.report.rules)."""
    grades = rules_graded(results)
    if not grades:
        return []
    rows: list[tuple[str, ...]] = [
        (g.rule, g.driver, g.verdict, str(len(g.held)), str(len(g.broke)),
         "; ".join(g.broke) or "—")
        for g in grades
    ]  # fmt: skip
    head = ("rule", "endpoint", "verdict", "held", "broken", "broken by")
    return ["", "### rules graded", "", *_table(head, rows)]


def render_markdown(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    sim = " (simulated)" if meta.get("mode") == "sim" else ""
    lines = [
        f"## geolab run {md(meta.get('id', ''))}{sim}: {tally(results)}",
        "",
        f"seed {md(meta.get('seed'))} · backend {md(meta.get('backend'))}",
        "",
        "| scenario | verdict | duration | expectations |",
        "| --- | --- | --- | --- |",
    ]
    several = len({r.driver for r in results}) > 1
    for r in results:
        verdict = verdict_md(r)
        ok = sum(e.passed for e in r.expectations)
        total = len(r.expectations)
        who = f" ({md(r.driver)})" if several else ""
        lines.append(f"| {md(r.name)}{who} | {verdict} | {r.duration:.1f}s | {ok}/{total} |")
    lines += matrix_lines(results)
    lines += rules_lines(results)
    lines += figures_lines(results)
    for r in results:
        fleet = r.fleet.fields() if r.fleet is not None else None
        if fleet is not None:
            lines += ["", f"### {md(r.name)}: registration storm", "", "```"]
            lines += fleet_lines(fleet)
            lines += ["```"]
    for r in results:
        if r.passed:
            continue
        who = f" ({md(r.driver)})" if several else ""
        lines += ["", f"### {md(r.name)}{who}", ""]
        lines += [f"- not applicable: {md(why)}" for why in r.not_applicable]
        lines += [
            f"- `{md(r.source)}:{md(e.line)}` expected {md(e.expected)}; observed {md(e.observed)}"
            for e in r.failures
        ]
        lines += [f"- error: {md(err)}" for err in r.errors]
        if shrinkable(r):
            lines.append(f"- a minimal fault schedule that still fails: `geolab shrink "
                         f"{md(r.source)} --seed {md(r.seed)}`")  # fmt: skip
    return "\n".join(lines) + "\n"


class MarkdownReport(FileReport):
    """``summary.md``: fit for a CI job summary."""

    name, filename = "markdown", "summary.md"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_markdown(meta, results)
