"""Two runs side by side (``geolab report --compare OLD NEW``): each drill's verdict and DR
figures, old and new, with the change. A run regressed when a drill's verdict got worse
(PASS > N/A > FAIL; a drill gone is said, not counted) or a figure grew past the allowed
share — and past a floor in seconds, so a 4 ms → 6 ms wobble is not a regression — or a
figure measured before is not seen any more."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.report.figures import Summary, dr_figures, summary
from lab.report.markdown import md
from lab.report.timeline import read_timeline
from lab.stream.results import ScenarioResult

RANK = {"PASS": 2, "N/A": 1, "FAIL": 0}
FIGURES = (("detection", "s"), ("recovery", "s"), ("failover", "s"), ("flaps", ""))


@dataclass(frozen=True)
class Change:
    drill: str  # "<source stem>" or "<source stem> (<driver>)"
    name: str
    old: str | None  # verdict; None: not in that run
    new: str | None
    figures: tuple[tuple[str, float | None, float | None, bool], ...]  # name, old, new, worse

    @property
    def worse(self) -> bool:
        verdict = (self.old is not None and self.new is not None
                   and RANK[self.new] < RANK[self.old])  # fmt: skip
        return verdict or any(w for *_, w in self.figures)


def load_run(path: Path) -> list[ScenarioResult]:
    """A timeline, or a report folder holding one."""
    timeline = path / "timeline.json" if path.is_dir() else path
    _, runs = read_timeline(timeline)
    return [ScenarioResult.of(events) for events in runs]


def _key(r: ScenarioResult, several: bool) -> str:
    stem = Path(r.source).stem
    return f"{stem} ({r.driver})" if several else stem


def _value(s: Summary, name: str) -> float | None:
    return {"detection": s.detection, "recovery": s.recovery, "failover": s.failover,
            "flaps": s.flaps}[name]  # fmt: skip


def compare(
    old: list[ScenarioResult], new: list[ScenarioResult], *, max_regression: float,
    floor: float,
) -> list[Change]:  # fmt: skip
    several = len({r.driver for r in [*old, *new]}) > 1
    before = {_key(r, several): r for r in old}
    after = {_key(r, several): r for r in new}
    changes = []
    for key in dict.fromkeys([*before, *after]):
        a, b = before.get(key), after.get(key)
        figures = []
        if a is not None and b is not None and not a.not_applicable and not b.not_applicable:
            sa, sb = summary([dr_figures(a.events)]), summary([dr_figures(b.events)])
            for name, unit in FIGURES:
                x, y = _value(sa, name), _value(sb, name)
                figures.append((name, x, y, _worse(x, y, max_regression,
                                                   floor if unit else 0.0)))  # fmt: skip
        changes.append(Change(key, (b or a).name,  # type: ignore[union-attr]
                              a.verdict if a else None, b.verdict if b else None,
                              tuple(figures)))  # fmt: skip
    return changes


def _worse(old: float | None, new: float | None, share: float, floor: float) -> bool:
    if old is None:
        return False  # nothing to regress from
    if new is None:
        return True  # measured before, not seen now
    return new > old * (1 + share) and new - old > floor


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}{unit}" if unit else f"{value:g}"


def render(changes: list[Change], old: str, new: str, *, max_regression: float) -> str:
    worse = [c for c in changes if c.worse]
    title = (f"{len(worse)} drill(s) worse" if worse else "no regression") + (
        f" (figures allowed {max_regression:.0%} more)")
    lines = [f"## geolab: {md(old)} → {md(new)}: {title}", "",
             "| drill | verdict | " + " | ".join(n for n, _ in FIGURES) + " |",
             "| --- | --- |" + " --- |" * len(FIGURES)]  # fmt: skip
    for c in changes:
        verdict = f"{c.old or 'absent'} → {c.new or 'absent'}"
        if c.old is not None and c.new is not None and RANK[c.new] < RANK[c.old]:
            verdict = f"**{verdict}**"
        cells = []
        figures = c.figures or tuple((n, None, None, False) for n, _ in FIGURES)
        for (_, unit), (_, x, y, bad) in zip(FIGURES, figures, strict=True):
            text = "—" if x is None and y is None else f"{_cell(x, unit)} → {_cell(y, unit)}"
            if x is not None and y is not None and x > 0:
                text += f" ({(y - x) / x:+.0%})"
            cells.append(f"**{text}**" if bad else text)
        lines.append(f"| {md(c.drill)} | {verdict} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
