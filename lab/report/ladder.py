"""A drill's SIP as a ladder (sequence) diagram: a column per connection of the endpoint,
the fault proxy and each site (remote parties as columns of their own, marked when they
start and end); every SIP message the stream holds an arrow labelled with its method or
status and its time, from the connection to its site (out) or back (in) — one the proxy's
faults dropped ends at the proxy with a cross. Rows go in time order, one per message.

Fault periods are shaded across the ladder and listed with a link to their first row;
failed expectations are marked where their window ended; retransmissions are drawn dashed
and named; runs of routine exchanges (a REGISTER or OPTIONS and its 200, nothing else)
fold into one row that opens on a click. A click on an arrow shows the whole message
(secrets redacted when it was recorded). Self-contained: inline SVG, CSS and script."""

from __future__ import annotations

import html
from dataclasses import dataclass

from lab.stream.events import (
    ConnectionPlaced,
    Event,
    FaultApplied,
    FaultHealed,
    LabUp,
    PartyChanged,
    SipObserved,
)
from lab.stream.results import ScenarioResult

COL, ROW, LEFT = 150, 20, 70
FOLD_AT = 6  # routine messages in a row before they fold
ROUTINE = frozenset({"REGISTER", "OPTIONS"})


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass
class _Row:
    kind: str  # "sip", "party", "fold"
    t: float
    event: SipObserved | PartyChanged | None = None
    retransmission: int = 0  # the how-many-th copy of the same message
    folded: int = -1  # the fold this row is hidden in (-1: shown)
    count: int = 0  # a fold's messages


def _columns(r: ScenarioResult) -> tuple[list[str], dict[str, int]]:
    sites = next((list(e.sites) for e in r.events if isinstance(e, LabUp)), [])
    placed = {e.connection: e.site for e in r.events if isinstance(e, ConnectionPlaced)}
    talking = {e.connection for e in r.events if isinstance(e, SipObserved)}
    conns = sorted({*placed, *(c for c in talking if c is not None)})
    for site in placed.values():
        if site not in sites:
            sites.append(site)
    parties = list(dict.fromkeys(e.name for e in r.events if isinstance(e, PartyChanged)))
    names = ([f"connection {c}" for c in conns] or ["endpoint"]) + ["fault proxy"]
    names += [f"site {s}" for s in sites] + [f"party {p}" for p in parties]
    return names, {n: i for i, n in enumerate(names)}


def _routine(e: SipObserved) -> bool:
    if e.dropped or e.malformed:
        return False
    method = (e.cseq or "").split(" ")[-1]
    if e.dir == "out":
        return e.method in ROUTINE
    return e.status == 200 and method in ROUTINE


def _rows(events: list[Event]) -> list[_Row]:
    rows: list[_Row] = []
    seen: dict[tuple[object, ...], int] = {}
    for e in events:
        if isinstance(e, SipObserved):
            key = (e.dir, e.connection, e.cseq, e.call_id, e.method, e.status, e.text)
            seen[key] = seen.get(key, -1) + 1
            rows.append(_Row("sip", e.t, e, retransmission=seen[key]))
        elif isinstance(e, PartyChanged):
            rows.append(_Row("party", e.t, e))
    rows.sort(key=lambda row: row.t)
    out: list[_Row] = []
    run: list[_Row] = []

    def flush() -> None:
        if len(run) >= FOLD_AT:
            fold = len([r for r in out if r.kind == "fold"])
            out.append(_Row("fold", run[0].t, count=len(run), folded=-1 - fold))
            for r in run:
                r.folded = fold
        out.extend(run)
        run.clear()

    for row in rows:
        if row.kind == "sip" and isinstance(row.event, SipObserved) and _routine(row.event) \
                and not row.retransmission:  # fmt: skip
            run.append(row)
            continue
        flush()
        out.append(row)
    flush()
    return out


def _faults(events: list[Event]) -> list[tuple[int, str, float, float | None]]:
    healed = {e.id: e.t for e in events if isinstance(e, FaultHealed)}
    return [(e.id, f"{e.kind} {e.site}", e.t, healed.get(e.id)) for e in events
            if isinstance(e, FaultApplied)]  # fmt: skip


class _Drawing:
    """Rows of one ladder, each its own small SVG, so a fold opens and closes in place."""

    def __init__(self, names: list[str], col: dict[str, int], placed: dict[int, str]) -> None:
        self.names, self.col, self.placed = names, col, placed
        self.width = LEFT + COL * len(names)

    def x(self, name: str) -> float:
        return LEFT + COL * self.col.get(name, 0) + COL / 2

    def row(self, body: str, *, cls: str, shaded: list[str], attrs: str = "") -> str:
        band = "".join(f'<rect class="fault-band" x="0" y="0" width="{self.width}" '
                       f'height="{ROW}" fill="#fee0d2" opacity="0.6"><title>during fault '
                       f"{esc(f)}</title></rect>" for f in shaded[:1])  # fmt: skip
        lines = "".join(f'<line x1="{self.x(n):.1f}" x2="{self.x(n):.1f}" y1="0" y2="{ROW}" '
                        'stroke="#bbb"/>' for n in self.names)  # fmt: skip
        return (f'<svg class="{cls}"{attrs} width="{self.width}" height="{ROW}" '
                f'xmlns="http://www.w3.org/2000/svg">{band}{lines}{body}</svg>')

    def header(self) -> str:
        heads = "".join(f'<text x="{self.x(n):.1f}" y="15" font-size="12" text-anchor="middle"'
                        f' font-weight="bold">{esc(n)}</text>' for n in self.names)  # fmt: skip
        return (f'<svg class="ladder-head" width="{self.width}" height="{ROW + 4}" '
                f'xmlns="http://www.w3.org/2000/svg">{heads}</svg>')

    def message(self, row: _Row, i: int) -> str:
        e = row.event
        assert isinstance(e, SipObserved)
        y = ROW / 2 + 3
        conn = f"connection {e.connection}" if e.connection is not None else "endpoint"
        site = f"site {self.placed[e.connection]}" if e.connection in self.placed else (
            "fault proxy")  # fmt: skip
        start, end = self.x(conn), self.x(site)
        if e.dir != "out":
            start, end = end, start
        if e.dropped:
            end = self.x("fault proxy")
        if e.method:
            label = e.method
        elif e.status is not None:
            label = f"{e.status} {(e.cseq or '').split(' ')[-1]}".strip()
        else:
            label = "malformed"
        again = f" (retransmission {row.retransmission})" if row.retransmission else ""
        dash = ' stroke-dasharray="4,3"' if row.retransmission else ""
        color = ("#a50f15" if e.dropped or e.malformed else
                 "#08519c" if e.dir == "out" else "#238b45")  # fmt: skip
        head = 6 if end > start else -6
        cross = (f'<text x="{end - 4:.1f}" y="{y + 4}" font-size="12" fill="#a50f15">✕</text>'
                 if e.dropped else "")  # fmt: skip
        return (f'<line class="arrow" x1="{start:.1f}" x2="{end:.1f}" y1="{y}" y2="{y}" '
                f'stroke="{color}"{dash}/><polygon points="{end:.1f},{y} {end - head:.1f},'
                f'{y - 3} {end - head:.1f},{y + 3}" fill="{color}"/><text x="'
                f'{min(start, end) + 8:.1f}" y="{y - 3}" font-size="10">{esc(label)}{esc(again)}'
                f'{" (dropped by the fault proxy)" if e.dropped else ""}</text><text x="4" '
                f'y="{y + 3}" font-size="9" fill="#666">{e.t:.3f}s</text>{cross}'
                f"<title>{esc(label)} {e.dir} at {e.t:.3f}s{esc(again)}</title>")  # fmt: skip


def ladder_html(r: ScenarioResult, drill: str) -> str:
    """The ladder of one drill (``drill``: an id unique in the page)."""
    sip = [e for e in r.events if isinstance(e, SipObserved)]
    if not sip:
        return ""
    names, col = _columns(r)
    placed = {e.connection: e.site for e in r.events if isinstance(e, ConnectionPlaced)}
    d = _Drawing(names, col, placed)
    faults = _faults(r.events)
    marks: list[tuple[float, int, str]] = []  # (time, order, row html) besides the messages
    links = []
    for n, (fid, label, start, stop) in enumerate(faults):
        anchor = f"{drill}-fault-{fid}"
        x0 = LEFT + 4 + 150 * (n % 3)  # faults that start together are drawn apart
        marks.append((start, 0, d.row(
            f'<text x="{x0}" y="14" font-size="11" fill="#a50f15">▼ fault {esc(label)} '
            f"applied at {start:.3f}s</text>", cls="fault-start", shaded=[label],
            attrs=f' id="{esc(anchor)}"')))  # fmt: skip
        if stop is not None:
            marks.append((stop, 2, d.row(
                f'<text x="{x0}" y="14" font-size="11" fill="#a50f15">▲ fault {esc(label)} '
                f"healed at {stop:.3f}s</text>", cls="fault-end", shaded=[])))  # fmt: skip
        links.append(f'<a href="#{esc(anchor)}">{esc(label)} at {start:.2f}s</a>')
    for exp in r.expectations:
        if not exp.passed:
            marks.append((exp.t, 1, d.row(
                f'<line x1="0" x2="{d.width}" y1="{ROW / 2}" y2="{ROW / 2}" stroke="#a50f15" '
                f'stroke-width="2" stroke-dasharray="6,3"/><text x="{LEFT + 4}" y="{ROW / 2 - 2}" '
                f'font-size="10" fill="#a50f15">✘ line {exp.line}: {esc(exp.expected)}</text>',
                cls="failed-at", shaded=[])))  # fmt: skip
    body: list[tuple[float, int, str]] = list(marks)

    def active(t: float) -> list[str]:
        return [label for _, label, a, b in faults if a <= t and (b is None or t <= b)]

    for i, row in enumerate(_rows(r.events)):
        hidden = f' data-fold="{row.folded}" style="display:none"' if row.folded >= 0 else ""
        if row.kind == "fold":
            body.append((row.t, 1, d.row(
                f'<text x="{LEFT}" y="14" font-size="11">▸ {row.count} routine messages '
                f"(REGISTER, OPTIONS and their 200) from {row.t:.2f}s: click to open</text>",
                cls="fold", shaded=active(row.t),
                attrs=f' data-opens="{-1 - row.folded}" style="cursor:pointer"')))  # fmt: skip
        elif row.kind == "party" and isinstance(row.event, PartyChanged):
            p = row.event
            cx = d.x("party " + p.name)
            body.append((row.t, 1, d.row(
                f'<circle cx="{cx:.1f}" cy="10" r="4" fill="#756bb1"/><text x="{cx + 8:.1f}" '
                f'y="14" font-size="10">{esc(p.state)} at {row.t:.3f}s</text>',
                cls="party-mark", shaded=active(row.t), attrs=hidden)))  # fmt: skip
        else:
            e = row.event
            assert isinstance(e, SipObserved)
            cls = "msg retransmission" if row.retransmission else "msg"
            body.append((row.t, 1, d.row(
                d.message(row, i), cls=cls, shaded=active(row.t),
                attrs=f'{hidden} data-text="{esc(e.text or e.malformed or "")}" '
                      'style="cursor:pointer"')))  # fmt: skip
    body.sort(key=lambda b: (b[0], b[1]))
    shown = sum(1 for b in body if 'style="display:none"' not in b[2])
    jump = f'<p class="ladder-faults">faults: {" · ".join(links)}</p>' if links else ""
    info = (f"<p>{len(sip)} SIP messages in {shown} rows; a click on an arrow shows the "
            "message, on a folded row its messages</p>")  # fmt: skip
    return (f'<div class="ladder-box"><h3>SIP ladder</h3>{info}{jump}'
            f'<div class="ladder" data-drill="{esc(drill)}">{d.header()}'
            f'{"".join(b[2] for b in body)}</div>'
            f'<pre class="sip-message" id="{esc(drill)}-message">(click an arrow)</pre></div>')


LADDER_SCRIPT = """
document.querySelectorAll("div.ladder").forEach(box => {
  const out = document.getElementById(box.dataset.drill + "-message");
  box.querySelectorAll("svg.msg").forEach(row => row.addEventListener("click", () => {
    out.textContent = row.dataset.text || "(not recorded)";
  }));
  box.querySelectorAll("svg.fold").forEach(fold => fold.addEventListener("click", () => {
    box.querySelectorAll(`[data-fold="${fold.dataset.opens}"]`).forEach(row => {
      row.style.display = row.style.display === "none" ? "" : "none";
    });
  }));
});
document.body.dataset.arrows = String(document.querySelectorAll("div.ladder line.arrow").length);
"""
