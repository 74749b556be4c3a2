"""The run's stream: a closed set of frozen, slotted events, each with one JSON form that
reads back to the same event; handlers get start, every event, finish."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections import Counter
from pathlib import Path

import pytest

from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    SessionStatus,
    SessionStatusChanged,
)
from lab.fleet.meter import FleetResult
from lab.report.console import ConsoleReport
from lab.scenario.models import EventMatch
from lab.stream import events as ev
from lab.stream.handlers import Collector, RunContext, replay
from lab.stream.results import ScenarioResult
from lab.stream.typecheck import checked

SAMPLES: list[ev.Event] = [
    ev.RunStarted(t=0.0, name="n", source="s.yaml", backend="auto", seed=3, mode="sim"),
    ev.LabUp(t=0.0, backend="sim", sites=("a", "b")),
    ev.SiteUp(t=0.0, site="a"),
    ev.StepStarted(t=0.1, index=0, id="k", action="fault", line=4, note="x"),
    ev.FaultApplied(
        t=0.1,
        id=1,
        kind="kill",
        site="a",
        params={"p": 1},
        via="process",
        requested_at=0.1,
        applied_at=0.1,
        healed_at=None,
    ),
    ev.SiteDown(t=0.1, site="a"),
    ev.StepFinished(t=0.1, index=0, id="k", action="fault"),
    ev.EndpointEvent(
        t=0.2,
        event=ConnectionStatusChanged(
            connection=0,
            status=ConnectionStatus.UNAVAILABLE,
            previous=ConnectionStatus.AVAILABLE,
            reason="keep-alive timeout",
            code=408,
            t=0.2,
        ),
    ),
    ev.EndpointEvent(
        t=0.3,
        event=SessionStatusChanged(
            session="s1",
            connection=1,
            status=SessionStatus.DIALING,
            previous=None,
            direction="outbound",
            remote="6001",
            t=0.3,
        ),
    ),
    ev.SipObserved(
        t=0.3,
        dir="out",
        connection=1,
        transport="udp",
        cseq="1 INVITE",
        call_id="c@h",
        method="INVITE",
    ),
    ev.SipObserved(
        t=0.4,
        dir="in",
        connection=None,
        transport="tcp",
        cseq="1 INVITE",
        call_id="c@h",
        status=100,
    ),
    ev.PartyChanged(t=0.4, name="in", kind="caller", state="started", site="b", to="5001"),
    ev.PartyChanged(t=0.5, name="in", kind="caller", state="ended", ok=True),
    ev.FaultHealed(
        t=0.6,
        id=1,
        kind="kill",
        site="a",
        params={},
        via="process",
        requested_at=0.1,
        applied_at=0.1,
        healed_at=0.6,
    ),
    ev.FleetMeasured(
        t=0.7,
        declared=10,
        storm=FleetResult(
            2, "a", recovery=[0.5, 1.5], load={"a": Counter({3: 2})}, back_at=2.0
        ).to_json(),
    ),
    ev.ExpectationChecked(t=0.7, step=2, line=9, passed=False, expected="e", observed="o", at=0.65),
    ev.RunErrored(t=0.8, message="lab error: x"),
    ev.ConnectionPlaced(t=0.0, connection=0, site="a"),
    ev.RunNotApplicable(t=0.0, reasons=("it uses hold (line 9), which driver x cannot give",)),
    ev.LabDown(t=0.9),
    ev.RunFinished(t=0.9, passed=False, duration=0.9),
]


def test_the_samples_cover_every_event_class() -> None:
    classes = set(typing.get_args(ev.Event))
    assert {type(e) for e in SAMPLES} == classes
    assert set(ev.EVENT_CLASSES) == classes - {ev.EndpointEvent}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_each_event_reads_back_from_its_json_form(event: ev.Event) -> None:
    form = event.to_json()
    assert set(form) == {"t", "kind", "data"} and form["kind"] == event.KIND
    assert ev.from_json(form) == event
    if event.label is not None:
        assert form["data"]["event"] == event.label


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_events_are_frozen_and_slotted(event: ev.Event) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.t = 1.0  # type: ignore[misc]
    assert not hasattr(event, "__dict__")


def test_only_the_run_s_end_is_terminal() -> None:
    assert [type(e).__name__ for e in SAMPLES if e.TERMINAL] == ["RunFinished"]


def test_a_drill_can_match_exactly_the_matchable_labels() -> None:
    literal = typing.get_args(EventMatch.model_fields["event"].annotation)
    assert set(literal) == set(ev.MATCHABLE)
    labels = {e.label for e in SAMPLES}
    assert set(ev.MATCHABLE) <= labels


@pytest.mark.parametrize(
    "form",
    [
        {"t": 0, "kind": "nope", "data": {}},
        {"kind": "lab"},
        {"t": 0, "kind": "run_start", "data": {}},
        {"t": 0, "kind": "endpoint", "data": {"event": "Nope"}},
    ],
)
def test_what_does_not_fit_is_a_value_error(form: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ev.from_json(form)


@pytest.mark.parametrize(
    ("field", "value"), [("connection", "1"), ("status", "Available"), ("code", 4.5)]
)
def test_an_endpoint_event_s_fields_are_checked_for_their_declared_types(
    field: str, value: object
) -> None:
    # the phone's events are typed with Final fields: the check looks inside them
    form = {"event": "ConnectionStatusChanged", "connection": 1, "status": "Available",
            "previous": None, "reason": "registered", "code": 200}  # fmt: skip
    good = ev.from_json({"t": 1.0, "kind": "endpoint", "data": form})
    assert isinstance(good, ev.EndpointEvent)
    bad = dataclasses.replace(good.event, **{field: value})  # type: ignore[type-var]
    with pytest.raises(ValueError, match=f"ConnectionStatusChanged.{field}"):
        checked(bad)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None, str | None]] = []

    def start(self, ctx: RunContext) -> None:
        self.calls.append(("start", None, None))

    def handle(self, ctx: RunContext, drill: int, event: ev.Event) -> None:
        self.calls.append(("handle", drill, type(event).__name__))

    def finish(self, ctx: RunContext) -> None:
        self.calls.append(("finish", None, None))


def test_handlers_get_start_every_event_of_every_drill_then_finish() -> None:
    recorder, collector = Recorder(), Collector()
    ctx = RunContext({"id": "x"}, drills=2)
    replay(ctx, [recorder, collector], [SAMPLES, SAMPLES[:1] + SAMPLES[-1:]])
    assert recorder.calls[0] == ("start", None, None) and recorder.calls[-1][0] == "finish"
    assert len(recorder.calls) == 2 + len(SAMPLES) + 2
    assert [c[1] for c in recorder.calls[1:-1]] == [0] * len(SAMPLES) + [1, 1]
    first, second = collector.results()
    assert isinstance(first, ScenarioResult) and first.backend == "sim"  # the lab that ran
    assert first.errors == ["lab error: x"] and not first.passed
    (failure,) = first.failures
    assert (failure.line, failure.t) == (9, 0.65)
    assert second.expectations == [] and second.backend == "auto"


def test_the_console_tells_failures_errors_and_the_tally(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ctx = RunContext({"id": "x"}, drills=1, folder=tmp_path)
    ran = [e for e in SAMPLES if not isinstance(e, ev.RunNotApplicable)]
    replay(ctx, [ConsoleReport()], [ran])
    out = capsys.readouterr().out
    assert "✘ line 9: expected e; observed o" in out and "error: lab error: x" in out
    assert "conn 0: Unavailable" in out and "FAIL in 0.9s" in out
    assert "0/1 scenarios passed" in out
    assert "2 endpoints; site a back at 2.0s" in out  # the storm, as fleet drills print it


def test_a_drill_not_applicable_is_neither_passed_nor_failed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    start = ev.RunStarted(t=0.0, name="n", source="s.yaml", backend="auto", seed=0,
                          mode="real", driver="baresip")  # fmt: skip
    lacking = ev.RunNotApplicable(t=0.0, reasons=("it uses hold (line 9), which driver "
                                                  "baresip cannot give its endpoint",))  # fmt: skip
    end = ev.RunFinished(t=0.0, passed=False, duration=0.0)
    passing = [dataclasses.replace(start, name="p", source="p.yaml"),
               ev.RunFinished(t=1.0, passed=True, duration=1.0)]  # fmt: skip
    ctx = RunContext({"id": "x"}, drills=2, folder=tmp_path)
    replay(ctx, [ConsoleReport()], [[start, lacking, end], passing])
    out = capsys.readouterr().out
    assert "not applicable: it uses hold (line 9)" in out and "N/A (not run)" in out
    assert "1/1 scenarios passed (1 not applicable, not run)" in out
    result = ScenarioResult.of([start, lacking, end])
    assert result.verdict == "N/A" and result.not_applicable == list(lacking.reasons)
    again = ScenarioResult.from_json(json.loads(json.dumps(result.to_json())))
    assert again.verdict == "N/A" and again.not_applicable == result.not_applicable
    assert ScenarioResult.of(passing).verdict == "PASS"
