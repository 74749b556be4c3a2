"""One self-contained HTML file per run: a summary table and, per scenario, a timeline
picture with one lane per connection (status over time), fault periods shaded, calls drawn
on the connection they used, failed expectations marked."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from endpoint.core.events import SessionStatusChanged
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
from lab.report.ladder import LADDER_SCRIPT, ladder_html
from lab.report.markdown import graded, shrinkable
from lab.report.rules import rules_graded
from lab.stream.events import EndpointEvent, FaultApplied, FaultHealed
from lab.stream.handlers import RunContext
from lab.stream.results import ScenarioResult

COLORS = {
    "Registering": "#9ecae1",
    "Available": "#31a354",
    "Unavailable": "#de2d26",
    "Disabled": "#969696",
    "Removed": "#636363",
}
CALL = {"Dialing": "#fdae6b", "Ringing": "#fd8d3c", "Established": "#3182bd", "OnHold": "#9e9ac8"}
W, LANE, LEFT = 900, 34, 110


def _x(t: float, end: float) -> float:
    return LEFT + (W - LEFT - 10) * (t / end if end > 0 else 0)


def _fault_labels(
    faults: dict[int, list[FaultApplied | FaultHealed]], end: float
) -> list[tuple[int, float, float, str, int]]:
    """Each fault's (id, start, stop, label, level): a label that would overlap one drawn
    before it goes down to the first line where it does not (faults that start together
    are drawn apart)."""
    out: list[tuple[int, float, float, str, int]] = []
    taken: list[tuple[float, float, int]] = []  # (x from, x to, level)
    for fid, fault_events in faults.items():
        start = next((f.t for f in fault_events if isinstance(f, FaultApplied)), 0.0)
        stop = next((f.t for f in fault_events if isinstance(f, FaultHealed)), end)
        label = html.escape(f"{fault_events[0].kind} {fault_events[0].site}")
        x0 = _x(start, end) + 2
        x1 = x0 + 6 * len(label) + 4  # about 6 px a character at 10 px
        level = 0
        while any(a < x1 and x0 < b and lv == level for a, b, lv in taken):
            level += 1
        taken.append((x0, x1, level))
        out.append((fid, start, stop, label, level))
    return out


def lanes_svg(r: ScenarioResult) -> str:
    end = max([e.t for e in r.events] + [0.001])
    conns: dict[int, list[EndpointEvent]] = {}
    calls: dict[str, list[EndpointEvent]] = {}
    faults: dict[int, list[FaultApplied | FaultHealed]] = {}
    for e in r.events:
        if isinstance(e, EndpointEvent) and e.label == "ConnectionStatusChanged":
            conns.setdefault(e.event.connection, []).append(e)
        elif isinstance(e, EndpointEvent) and isinstance(e.event, SessionStatusChanged):
            calls.setdefault(e.event.session, []).append(e)
        elif isinstance(e, FaultApplied | FaultHealed):
            faults.setdefault(e.id, []).append(e)
    ids = sorted(conns)
    labels = _fault_labels(faults, end)
    top = 11 * max([level for *_, level in labels] + [0])  # room for labels drawn apart
    height = top + 30 + LANE * max(1, len(ids)) + 20
    parts = [
        f'<svg class="timeline" width="{W}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for fid, start, stop, label, level in labels:
        parts.append(
            f'<rect class="fault" x="{_x(start, end):.1f}" y="{top + 20}" '
            f'width="{max(2, _x(stop, end) - _x(start, end)):.1f}" height="{height - top - 40}" '
            f'fill="#fee0d2" opacity="0.7"><title>fault {fid}: {label}</title></rect>'
            f'<text class="fault-label" x="{_x(start, end) + 2:.1f}" y="{15 + 11 * level}" '
            f'font-size="10">{label}</text>'
        )  # fmt: skip
    for row, cid in enumerate(ids):
        y = top + 25 + row * LANE
        parts.append(
            f'<text x="5" y="{y + 14}" font-size="12" class="lane-label">connection {cid}</text>'
        )
        evs = conns[cid]
        for i, e in enumerate(evs):
            stop = evs[i + 1].t if i + 1 < len(evs) else end
            status = str(e.event.status)
            parts.append(
                f'<rect class="lane" data-connection="{cid}" data-status="{status}" x="{_x(e.t, end):.1f}" y="{y}" '
                f'width="{max(1, _x(stop, end) - _x(e.t, end)):.1f}" height="10" fill="{COLORS.get(status, "#ccc")}">'
                f"<title>connection {cid}: {status} from {e.t:.3f}s ({html.escape(e.event.reason)})</title></rect>"
            )
    for sid, call_events in calls.items():
        for i, c in enumerate(call_events):
            status = str(c.event.status)
            if status == "Disconnected":
                continue
            cid = c.event.connection
            row = ids.index(cid) if cid in ids else 0
            stop = call_events[i + 1].t if i + 1 < len(call_events) else end
            y = top + 25 + row * LANE + 13
            parts.append(
                f'<rect class="call" x="{_x(c.t, end):.1f}" y="{y}" width="{max(1, _x(stop, end) - _x(c.t, end)):.1f}" '
                f'height="8" fill="{CALL.get(status, "#aaa")}"><title>{html.escape(sid)} {status} on connection {cid}</title></rect>'
            )
    for exp in r.expectations:
        if not exp.passed:
            x = _x(min(exp.t, end), end)
            parts.append(
                f'<line class="failed" x1="{x:.1f}" x2="{x:.1f}" y1="{top + 20}" y2="{height - 15}" stroke="#a50f15" stroke-width="2">'
                f"<title>FAILED: {html.escape(exp.expected)}</title></line>"
            )
    parts.append(
        f'<text x="{LEFT}" y="{height - 3}" font-size="10">0 s</text>'
        f'<text x="{W - 60}" y="{height - 3}" font-size="10">{end:.1f} s</text></svg>'
    )
    return "".join(parts)


SITE_COLORS = ("#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363")


def fleet_of(r: ScenarioResult) -> dict[str, Any] | None:
    return r.fleet.fields() if r.fleet is not None else None


def fleet_html(d: dict[str, Any]) -> str:
    """The storm: percentiles, a histogram of re-registration times, REGISTER/s per site."""
    peaks = ", ".join(f"{s}: {n}" for s, n in sorted(d["peak_register_per_s"].items()))
    declared = (
        f" (of {esc(d['declared'])} declared)"
        if d.get("declared", d["endpoints"]) != d["endpoints"]
        else ""
    )
    table = (
        '<table class="fleet"><tr><th>endpoints</th><th>p50</th><th>p90</th><th>p99</th>'
        "<th>max</th><th>unrecovered</th><th>peak REGISTER/s</th></tr>"
        f"<tr><td>{esc(d['endpoints'])}{declared}</td><td>{d['p50']:.3f}s</td><td>{d['p90']:.3f}s</td>"
        f"<td>{d['p99']:.3f}s</td><td>{d['max']:.3f}s</td><td>{esc(d['unrecovered'])}</td>"
        f"<td>{html.escape(peaks)}</td></tr></table>"
    )
    bins = d["histogram"]
    top = max((n for _, _, n in bins), default=0) or 1
    bw, bh = 60, 120
    bars = [
        f'<svg class="histogram" width="{LEFT + bw * len(bins) + 10}" height="{bh + 50}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<text x="5" y="14" font-size="11">endpoints re-registered on site '
        f"{html.escape(str(d['outage_site']))}, by seconds after its return</text>"
    ]
    for i, (lo, hi, n) in enumerate(bins):
        h = bh * n / top
        x = LEFT + i * bw
        bars.append(
            f'<rect class="bin" data-count="{n}" x="{x}" y="{30 + bh - h:.1f}" width="{bw - 4}" '
            f'height="{max(h, 0.5):.1f}" fill="#3182bd"><title>{lo:.3f} to {hi:.3f}s: {n}</title></rect>'
            f'<text x="{x}" y="{bh + 42}" font-size="9">{lo:.1f}s</text>'
            f'<text x="{x + 2}" y="{30 + bh - h - 2:.1f}" font-size="9">{n}</text>'
        )
    bars.append("</svg>")
    load: dict[str, list[list[int]]] = d["load"]
    end = max([sec for pts in load.values() for sec, _ in pts] + [1])
    peak = max([n for pts in load.values() for _, n in pts] + [1])
    lh = 140
    chart = [
        f'<svg class="load" width="{W}" height="{lh + 40}" xmlns="http://www.w3.org/2000/svg">'
        f'<text x="5" y="14" font-size="11">REGISTER messages per second per site '
        f"(peak {peak})</text>"
    ]
    for k, (site, pts) in enumerate(sorted(load.items())):
        color = SITE_COLORS[k % len(SITE_COLORS)]
        counts = dict((sec, n) for sec, n in pts)
        coords = " ".join(
            f"{_x(sec, end):.1f},{20 + lh - lh * counts.get(sec, 0) / peak:.1f}"
            for sec in range(end + 1)
        )
        chart.append(
            f'<polyline class="site-load" data-site="{html.escape(site)}" points="{coords}" '
            f'fill="none" stroke="{color}" stroke-width="1"/>'
            f'<text x="5" y="{40 + 14 * k}" font-size="11" fill="{color}">site {html.escape(site)}</text>'
        )
    back = _x(float(d["back_at"]), end)
    chart.append(
        f'<line x1="{back:.1f}" x2="{back:.1f}" y1="20" y2="{20 + lh}" stroke="#a50f15" '
        f'stroke-dasharray="3,3"><title>site back at {d["back_at"]:.3f}s</title></line>'
        f'<text x="{LEFT}" y="{lh + 35}" font-size="10">0 s</text>'
        f'<text x="{W - 60}" y="{lh + 35}" font-size="10">{end} s</text></svg>'
    )
    return f'<div class="fleet">{table}{"".join(bars)}{"".join(chart)}</div>'


def picture(r: ScenarioResult) -> str:
    fleet = fleet_of(r)
    return fleet_html(fleet) if fleet is not None else lanes_svg(r)


def esc(value: object) -> str:
    return html.escape(str(value))


def capture_link(r: ScenarioResult, folder: Path | None) -> str:
    """A link to the drill's pcap (what the fault proxy saw), when the run wrote one."""
    name = capture_name(r, folder)
    if name is None:
        return ""
    return f' · <a class="pcap" href="{esc(name)}">SIP capture (pcap)</a>'


VERDICT_CLASS = {"PASS": "pass", "FAIL": "fail", "N/A": "na"}


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], cls: str) -> str:
    ths = "".join(f"<th>{esc(h)}</th>" for h in head)
    trs = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><tr>{ths}</tr>{trs}</table>'


def figures_html(r: ScenarioResult) -> str:
    """The drill's DR figures: each outage per connection, each dial that needed failover."""
    f = dr_figures(r.events)
    if not f:
        return ""
    parts = ["<h3>DR figures</h3>"]
    if f.outages:
        parts.append(_table(OUTAGE_HEAD, [outage_cells(o) for o in f.outages], "figures"))
    if f.dials:
        parts.append(_table(DIAL_HEAD, [dial_cells(d) for d in f.dials], "figures dials"))
    if f.moves:  # a name's next target, a DNS change followed
        parts.append(_table(MOVE_HEAD, [move_cells(m) for m in f.moves], "figures moves"))
    return "".join(parts)


def endpoints_html(results: list[ScenarioResult]) -> str:
    """Each endpoint's medians, when the run graded several."""
    drivers = list(dict.fromkeys(r.driver for r in results))
    if len(drivers) <= 1:
        return ""
    rows = [summary_cells(d, summary(dr_figures(r.events) for r in results if r.driver == d))
            for d in drivers]  # fmt: skip
    return "<h2>DR figures by endpoint</h2>" + _table(SUMMARY_HEAD, rows, "endpoints")


def matrix_html(results: list[ScenarioResult]) -> str:
    """Drills by endpoint (driver), when the run graded more than one."""
    drivers = list(dict.fromkeys(r.driver for r in results))
    if len(drivers) <= 1:
        return ""
    cell = {(r.source, r.driver): r for r in results}
    rows = []
    for source, name in dict.fromkeys((r.source, r.name) for r in results):
        tds = "".join(
            "<td>—</td>" if (source, d) not in cell
            else f'<td class="{VERDICT_CLASS[cell[(source, d)].verdict]}" '
            f'title="{esc("; ".join(cell[(source, d)].not_applicable))}">'
            f"{cell[(source, d)].verdict}</td>"
            for d in drivers
        )
        rows.append(f"<tr><td>{esc(name)}</td>{tds}</tr>")
    rows.append("<tr><th>each endpoint</th>"
                + "".join(f"<th>{esc(graded(results, d))}</th>" for d in drivers) + "</tr>")
    head = "".join(f"<th>{esc(d)}</th>" for d in drivers)
    return (f'<h2>drills by endpoint</h2><table class="matrix"><tr><th>drill</th>{head}</tr>'
            f'{"".join(rows)}</table>')  # fmt: skip


def rules_html(results: list[ScenarioResult]) -> str:
    """Verdicts by the rule they grade, per endpoint (lab.report.rules)."""
    grades = rules_graded(results)
    if not grades:
        return ""
    rows = "".join(
        f'<tr><td>{esc(g.rule)}</td><td>{esc(g.driver)}</td>'
        f'<td class="{VERDICT_CLASS[g.verdict]}">{g.verdict}</td><td>{len(g.held)}</td>'
        f'<td>{len(g.broke)}</td><td>{esc("; ".join(g.broke)) or "—"}</td></tr>'
        for g in grades
    )
    return ('<h2>rules graded</h2><table class="rules"><tr><th>rule</th><th>endpoint</th>'
            "<th>verdict</th><th>held</th><th>broken</th><th>broken by</th></tr>"
            f"{rows}</table>")  # fmt: skip


def capture_name(r: ScenarioResult, folder: Path | None) -> str | None:
    stem = Path(r.source).stem
    for name in (f"{stem}-{r.driver}.pcap", f"{stem}.pcap"):
        if folder is not None and (folder / name).exists():
            return name
    return None


def render_html(
    meta: dict[str, Any], results: list[ScenarioResult], folder: Path | None = None
) -> str:
    sim = " (simulated)" if meta.get("mode") == "sim" else ""
    rows = "".join(
        f'<tr class="{VERDICT_CLASS[r.verdict]}"><td>{html.escape(r.name)}</td>'
        f"<td>{r.verdict}</td><td>{html.escape(str(r.backend))}</td><td>{float(r.duration):.1f}s</td>"
        f"<td>{sum(e.passed for e in r.expectations)}/{len(r.expectations)}</td></tr>"
        for r in results
    )
    sections = []
    for n, r in enumerate(results):
        exps = "".join(
            f'<li class="{"ok" if e.passed else "bad"}">{html.escape(r.source)}:{e.line} '
            f"{'✔' if e.passed else '✘'} expected {html.escape(e.expected)}<br><small>observed "
            f"{html.escape(e.observed)}</small></li>"
            for e in r.expectations
        )
        errs = "".join(f'<li class="bad">error: {html.escape(err)}</li>' for err in r.errors)
        errs += "".join(f'<li class="na">not applicable: {esc(why)}</li>'
                        for why in r.not_applicable)  # fmt: skip
        if shrinkable(r):
            errs += (f'<li class="bad">a minimal fault schedule that still fails: <code>geolab '
                     f"shrink {esc(r.source)} --seed {esc(r.seed)}</code></li>")  # fmt: skip
        sections.append(
            f'<section class="scenario"><h2>{html.escape(r.name)} — '
            f"{r.verdict}</h2><p>{html.escape(r.source)} · "
            f"backend {html.escape(str(r.backend))} · driver {esc(r.driver)} · "
            f"seed {html.escape(str(r.seed))}"
            f"{capture_link(r, folder)}</p>{picture(r)}{figures_html(r)}<ul>{exps}{errs}</ul>"
            f"{ladder_html(r, f'd{n}')}</section>"
        )
    return f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>geolab run {html.escape(str(meta.get("id", "")))}</title>
<style>body{{font-family:sans-serif;margin:20px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px}}
tr.fail td{{background:#fee}}tr.na td,td.na{{background:#f4f4f4;color:#666}}li.na{{color:#666}}li.bad{{color:#a50f15}}li.ok{{color:#256029}}section{{margin-top:24px}}</style></head>
<body><h1>geolab run {html.escape(str(meta.get("id", "")))}{sim}</h1><p>seed {esc(meta.get("seed"))} · mode {esc(meta.get("mode"))}
 · backend {esc(meta.get("backend"))}</p><table><tr><th>scenario</th><th>verdict</th><th>backend</th><th>duration</th>
<th>expectations</th></tr>{rows}</table>{matrix_html(results)}{rules_html(results)}{endpoints_html(results)}{"".join(sections)}
<script>
// Marks what the browser actually laid out (used by the report's rendering test).
const drawn = [...document.querySelectorAll("rect.lane")].filter(r => r.getBoundingClientRect().width > 0);
document.body.dataset.lanesRendered = String(drawn.length);
document.body.dataset.connections = String(new Set(drawn.map(r => r.dataset.connection)).size);
const bins = [...document.querySelectorAll("rect.bin")].filter(r => r.getBoundingClientRect().height > 0);
document.body.dataset.binsRendered = String(bins.length);
document.body.dataset.siteLoads = String(document.querySelectorAll("polyline.site-load").length);
{LADDER_SCRIPT}</script></body></html>"""


class HtmlReport(FileReport):
    """``report.html``: one self-contained page for the whole run."""

    name, filename = "html", "report.html"
    folder: Path | None = None

    def finish(self, ctx: RunContext) -> None:
        self.folder = ctx.folder
        super().finish(ctx)

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_html(meta, results, self.folder)
