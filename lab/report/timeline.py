"""The JSON timeline: everything a run saw, enough to re-render every other report.

Format 2 (``"format": 2``): every event in its JSON form (see :mod:`lab.stream.events`);
expectation events carry ``at``, the time they are about, and invariants' verdicts are on
the stream too; each drill names its ``driver`` (the endpoint under test; a timeline
without it reads as ``inprocess``). Added within format 2, read as absent when missing:
``connection`` events (the site each connection is on, what DR figures count against),
a drill's ``not_applicable`` reasons (with its ``not_applicable`` event), and a ``sip``
event's ``text`` (the message, secrets redacted) and ``dropped`` (the proxy's faults). A timeline
without ``format`` is format 1: it reads as well (its invariants' verdicts are taken from
its ``expectations`` list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.report.base import FileReport
from lab.stream.events import Event, ExpectationChecked, RunFinished
from lab.stream.results import ScenarioResult

FORMAT = 2


def render_timeline(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    data = {"format": FORMAT, "run": meta, "scenarios": [r.to_json() for r in results]}
    return json.dumps(data, indent=1, default=str)


class TimelineReport(FileReport):
    name, filename = "timeline", "timeline.json"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_timeline(meta, results)


def read_timeline(path: Path) -> tuple[dict[str, Any], list[list[Event]]]:
    """A timeline's run metadata and each drill's events, to replay through reports.
    ValueError says what does not fit."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "run" not in data or "scenarios" not in data:
        raise ValueError("not a geolab timeline (no 'run' and 'scenarios')")
    if not isinstance(data["run"], dict) or not isinstance(data["scenarios"], list):
        raise TypeError("not a geolab timeline ('run' a mapping, 'scenarios' a list)")
    version = data.get("format", 1)
    if version not in (1, FORMAT):
        raise ValueError(f"timeline format {version} is not one this geolab reads (1, {FORMAT})")
    runs = []
    for scenario in data["scenarios"]:
        result = ScenarioResult.from_json(scenario)
        events = result.events
        if version == 1:
            events = _format_1(result)
        runs.append(events)
    return data["run"], runs


def _format_1(result: ScenarioResult) -> list[Event]:
    """A format-1 drill's events as format 2 has them: each expectation event gets the
    time it is about from the recorded list, and the invariants' verdicts (kept beside the
    stream then) go in before the run's end."""
    recorded = list(result.expectations)
    events: list[Event] = []
    for event in result.events:
        if isinstance(event, ExpectationChecked):
            same = (event.line, event.expected, event.observed, event.passed)
            k = next((i for i, x in enumerate(recorded)
                      if (x.line, x.expected, x.observed, x.passed) == same), None)  # fmt: skip
            events.append(recorded.pop(k).event(event.t) if k is not None else event)
        else:
            events.append(event)
    end = next((i for i, e in enumerate(events) if isinstance(e, RunFinished)), len(events))
    t = events[end].t if end < len(events) else (events[-1].t if events else 0.0)
    return events[:end] + [x.event(t) for x in recorded] + events[end:]
