"""Runs over time (``geolab report --history RUN…``, oldest first): one self-contained HTML
page with each drill's verdict per run and endpoint, drills flagged flaky where a verdict
changed while the drill file did not (its digest, recorded at each run's start), and each
DR figure as a small chart across the runs, with the steps ``--compare`` would call a
regression marked. Runs are report folders or their timelines, all of one format."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

from lab.report.compare import FIGURES, _value, _worse
from lab.report.figures import dr_figures, summary
from lab.report.timeline import read_timeline
from lab.stream.events import RunStarted
from lab.stream.results import ScenarioResult

SHARE, FLOOR = 0.2, 0.05  # what --compare calls a regression, by default


class HistoryError(ValueError):
    """A run that cannot join the history: ``file:line: what``."""


@dataclass
class Row:
    """One drill on one endpoint across the runs."""

    key: str
    name: str
    verdicts: list[str | None] = field(default_factory=list)  # None: not in that run
    digests: list[str] = field(default_factory=list)
    figures: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def flaky(self) -> bool:
        """A verdict that changed from one run to a later one of the same drill file."""
        seen: dict[str, set[str]] = {}
        for verdict, digest in zip(self.verdicts, self.digests, strict=True):
            if verdict is not None and verdict != "N/A" and digest:
                seen.setdefault(digest, set()).add(verdict)
        return any(len(v) > 1 for v in seen.values())

    def regressions(self, name: str) -> list[int]:
        """The runs whose figure grew past what --compare allows over the run before."""
        values = self.figures.get(name, [])
        unit = dict(FIGURES)[name]
        return [i for i in range(1, len(values))
                if values[i - 1] is not None
                and _worse(values[i - 1], values[i], SHARE, FLOOR if unit else 0.0)]  # fmt: skip


def _format_of(path: Path) -> int:
    timeline = path / "timeline.json" if path.is_dir() else path
    try:
        data = json.loads(timeline.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise HistoryError(f"{timeline}:1: not a readable timeline: {exc}") from None
    if not isinstance(data, dict):
        raise HistoryError(f"{timeline}:1: not a geolab timeline")
    return int(data.get("format", 1))


def load_history(paths: list[Path]) -> tuple[list[str], list[Row]]:
    """The runs' labels and a row per drill (and endpoint, where several ran)."""
    if not paths:
        raise HistoryError("--history: no runs given")
    formats = {p: _format_of(p) for p in paths}
    if len(set(formats.values())) > 1:
        first = paths[0]
        other = next(p for p in paths if formats[p] != formats[first])
        raise HistoryError(f"{other}:1: timeline format {formats[other]}, but {first} is "
                           f"format {formats[first]}: a history compares runs of one format")
    runs: list[list[ScenarioResult]] = []
    labels = []
    for p in paths:
        timeline = p / "timeline.json" if p.is_dir() else p
        try:
            meta, events = read_timeline(timeline)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HistoryError(f"{timeline}:1: {exc}") from None
        runs.append([ScenarioResult.of(e) for e in events])
        labels.append(str(meta.get("id") or timeline.parent.name))
    several = len({r.driver for run in runs for r in run}) > 1
    rows: dict[str, Row] = {}
    for n, run in enumerate(runs):
        for r in run:
            key = Path(r.source).stem + (f" ({r.driver})" if several else "")
            row = rows.setdefault(key, Row(key, r.name, [None] * len(runs), [""] * len(runs),
                                           {name: [None] * len(runs) for name, _ in FIGURES}))
            start = r.events[0] if r.events else None
            row.verdicts[n] = r.verdict
            row.digests[n] = start.digest if isinstance(start, RunStarted) else ""
            if not r.not_applicable:
                s = summary([dr_figures(r.events)])
                for name, _ in FIGURES:
                    row.figures[name][n] = _value(s, name)
    return labels, list(rows.values())


def _chart(values: list[float | None], marked: list[int], unit: str) -> str:
    """An inline SVG: the figure across the runs, regressions as red dots."""
    seen = [v for v in values if v is not None]
    if not seen:
        return '<span class="none">not seen</span>'
    top = max(seen) or 1.0
    width, height, step = 120, 28, 120 / max(1, len(values) - 1)
    points = [(i * step, height - 3 - (v / top) * (height - 6))
              for i, v in enumerate(values) if v is not None]  # fmt: skip
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    dots = "".join(
        f'<circle cx="{i * step:.1f}" cy="{height - 3 - (v / top) * (height - 6):.1f}" r="3" '
        f'class="{"worse" if i in marked else "dot"}"><title>run {i + 1}: {v:.3g}{unit}'
        f"{' (regression)' if i in marked else ''}</title></circle>"
        for i, v in enumerate(values) if v is not None
    )
    return (f'<svg width="{width + 6}" height="{height}" viewBox="-3 0 {width + 6} {height}">'
            f'<polyline points="{line}" class="line"/>{dots}</svg>'
            f' <span class="last">{seen[-1]:.3g}{unit}</span>')  # fmt: skip


STYLE = """body{font-family:sans-serif;margin:1em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;vertical-align:middle}
.PASS{background:#cfc}.FAIL{background:#fcc}.NA{background:#eee;color:#666}
.flaky{background:#fd8;font-weight:bold;padding:0 4px;border-radius:3px}
.line{fill:none;stroke:#36c;stroke-width:1.5}.dot{fill:#36c}.worse{fill:#d00}
.none{color:#999}"""


def render_history(labels: list[str], rows: list[Row]) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(label)}</th>" for label in labels)
    heads = "".join(f"<th>{esc(name)}</th>" for name, _ in FIGURES)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{(v or "").replace("/", "")}">{esc(v or "—")}</td>' for v in row.verdicts
        )
        flag = ' <span class="flaky" title="its verdict changed while the drill did not">' \
            "flaky</span>" if row.flaky else ""  # fmt: skip
        charts = "".join(
            f'<td data-figure="{name}" data-regressions="{len(row.regressions(name))}">'
            f"{_chart(row.figures[name], row.regressions(name), unit)}</td>"
            for name, unit in FIGURES
        )
        body.append(f'<tr data-drill="{esc(row.key)}"><td title="{esc(row.name)}">'
                    f"{esc(row.key)}{flag}</td>{cells}{charts}</tr>")  # fmt: skip
    flaky = sum(r.flaky for r in rows)
    worse = sum(bool(r.regressions(n)) for r in rows for n, _ in FIGURES)
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>geolab history"
            f"</title><style>{STYLE}</style></head><body><h1>geolab: {len(labels)} runs</h1>"
            f'<p id="summary">{len(rows)} drills; {flaky} flaky; {worse} figure(s) with a '
            f"regression (over {SHARE:.0%} and {FLOOR} s more than the run before)</p>"
            f"<table><tr><th>drill</th>{head}{heads}</tr>{''.join(body)}</table>"
            "</body></html>\n")  # fmt: skip
