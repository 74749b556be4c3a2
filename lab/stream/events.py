"""The run's event stream: a closed set of frozen, slotted event classes.

Every producer (the lab, the endpoint, the wire, parties, steps, checks) writes these;
every consumer (console, JSON timeline, JUnit, HTML, Markdown) reads them. Each class has
one JSON form, ``{"t": …, "kind": KIND, "data": {…}}``; where several classes share a
``kind`` (the lab's, the endpoint's), ``data["event"]`` names the class's label, which is
also what a drill's ``event:`` matches. :func:`from_json` reads the form back.

Times are seconds since the run started (the run's monotonic or virtual clock)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    PhoneEvent,
    SessionStatus,
    SessionStatusChanged,
)
from lab.stream.typecheck import check_storm, checked


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    KIND: ClassVar[str]  # the JSON form's "kind"
    LABEL: ClassVar[str | None] = None  # data["event"]: what a drill's `event:` names
    TERMINAL: ClassVar[bool] = False  # nothing of the same run follows it

    t: float

    @property
    def label(self) -> str | None:
        return self.LABEL

    def fields(self) -> dict[str, Any]:
        """The event's data without its time, as JSON values."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "t"}

    def data(self) -> dict[str, Any]:
        """The JSON form's ``data``: the label (if any) and the fields."""
        label = self.label
        return {"event": label, **self.fields()} if label is not None else self.fields()

    def to_json(self) -> dict[str, Any]:
        return {"t": self.t, "kind": self.KIND, "data": self.data()}

    def retimed(self, t: float) -> Event:
        """The same event at run time ``t``."""
        return dataclasses.replace(self, t=round(t, 6))  # type: ignore[return-value]


def _present(values: dict[str, Any], *optional: str) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in optional or v is not None}


# --- the run ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(_Event):
    KIND = "run_start"
    name: str
    source: str
    backend: str  # as asked for ("auto", a backend, "sim"); LabUp says which one ran
    seed: int
    mode: str
    driver: str = "inprocess"  # the endpoint under test (lab.drivers)
    references: tuple[str, ...] = ()  # the rules the drill grades (lab.scenario.references)
    digest: str = ""  # the drill file's (lab.drill.schema.Scenario.digest)

    def fields(self) -> dict[str, Any]:
        out = _Event.fields(self)
        if not self.references:
            del out["references"]
        if not self.digest:
            del out["digest"]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(_Event):
    KIND = "run_end"
    TERMINAL = True
    passed: bool
    duration: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionPlaced(_Event):
    """A connection of the endpoint under test is on this site (given at the start, or
    added by a step): what the DR figures count each site's outage against."""

    KIND = "connection"
    connection: int
    site: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunNotApplicable(_Event):
    """The drill needs what the endpoint's driver lacks: it is not run, and its verdict is
    "not applicable" (never a pass)."""

    KIND = "not_applicable"
    reasons: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        return {"reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunErrored(_Event):
    """The drill could not go on (lab error, timeout): it fails whatever it checked."""

    KIND = "error"
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(_Event):
    KIND = "step_start"
    index: int
    id: str | None
    action: str
    line: int
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFinished(_Event):
    KIND = "step_end"
    index: int
    id: str | None
    action: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectationChecked(_Event):
    """One checked expectation (``step`` None for an invariant or a fleet verdict);
    ``at`` is the time it is about (the event found, or when the window closed)."""

    KIND = "expectation"
    step: int | None
    line: int
    passed: bool
    expected: str
    observed: str
    at: float
    references: tuple[str, ...] = ()  # the rules it grades, beside the drill's

    def fields(self) -> dict[str, Any]:
        out = _Event.fields(self)
        if not self.references:
            del out["references"]
        return out


# --- the endpoint -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointEvent(_Event):
    """A status event of the endpoint under test, as the endpoint reported it."""

    KIND = "endpoint"
    event: PhoneEvent

    @property
    def label(self) -> str:
        return type(self.event).__name__

    def fields(self) -> dict[str, Any]:
        data = self.event.to_json()
        data.pop("t", None)
        data.pop("event", None)
        return {k: (v.value if isinstance(v, ConnectionStatus | SessionStatus) else v)
                for k, v in data.items()}  # fmt: skip


def phone_event(label: str, d: Mapping[str, Any], t: float) -> PhoneEvent:
    def opt(enum: type[ConnectionStatus] | type[SessionStatus], v: Any) -> Any:
        return None if v is None else enum(v)

    if label == "ConnectionStatusChanged":
        return ConnectionStatusChanged(
            connection=d["connection"], status=ConnectionStatus(d["status"]),
            previous=opt(ConnectionStatus, d.get("previous")), reason=d.get("reason", ""),
            code=d.get("code"), t=t,
        )  # fmt: skip
    if label == "SessionStatusChanged":
        return SessionStatusChanged(
            session=d["session"], connection=d["connection"], status=SessionStatus(d["status"]),
            previous=opt(SessionStatus, d.get("previous")), direction=d["direction"],
            remote=d.get("remote", ""), reason=d.get("reason", ""), code=d.get("code"), t=t,
        )  # fmt: skip
    raise ValueError(f"unknown endpoint event {label!r}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SipObserved(_Event):
    """One SIP message the endpoint sent (``dir`` out) or received (in), on the
    connection it belongs to (None when no connection claims it)."""

    KIND = "sip"
    LABEL = "sip"
    dir: str
    connection: int | None
    transport: str
    cseq: str | None
    call_id: str | None
    method: str | None = None  # a request's
    status: int | None = None  # a response's
    malformed: str | None = None  # what did not parse (the lab's record of the wire)
    text: str | None = None  # the message itself (secrets redacted, at most TEXT_MAX chars)
    dropped: bool = False  # the fault proxy did not pass it on (a fault's doing)
    site: str | None = None  # the site it went to or came from (where the lab knows it)

    def fields(self) -> dict[str, Any]:
        out = _present(_Event.fields(self), "method", "status", "malformed", "text", "site")
        if not self.dropped:
            del out["dropped"]
        return out


# --- the lab ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class LabUp(_Event):
    KIND = "lab"
    LABEL = "lab_up"
    backend: str
    sites: tuple[str, ...]

    def fields(self) -> dict[str, Any]:
        return {"backend": self.backend, "sites": list(self.sites)}


@dataclass(frozen=True, slots=True, kw_only=True)
class LabDown(_Event):
    KIND = "lab"
    LABEL = "lab_down"


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteUp(_Event):
    KIND = "lab"
    LABEL = "site_up"
    site: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteDown(_Event):
    KIND = "lab"
    LABEL = "site_down"
    site: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _FaultEvent(_Event):
    KIND = "lab"
    id: int
    kind: str
    site: str
    params: Mapping[str, Any] = field(default_factory=dict)
    via: str
    requested_at: float
    applied_at: float
    healed_at: float | None
    heal_requested_at: float | None = None  # when the lab set about healing it (real labs)

    def fields(self) -> dict[str, Any]:
        out = _Event.fields(self)
        out["params"] = dict(self.params)
        if self.heal_requested_at is None:
            del out["heal_requested_at"]
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultApplied(_FaultEvent):
    LABEL = "fault_applied"


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultHealed(_FaultEvent):
    LABEL = "fault_healed"


LabEvent: TypeAlias = LabUp | LabDown | SiteUp | SiteDown | FaultApplied | FaultHealed


# --- parties and fleets -------------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class PartyChanged(_Event):
    """A remote party (callee or caller) started or ended (``ok``: it did its part)."""

    KIND = "party"
    name: str
    kind: str
    state: str
    user: str | None = None
    site: str | None = None
    to: str | None = None
    ok: bool | None = None

    def fields(self) -> dict[str, Any]:
        return _present(_Event.fields(self), "user", "site", "to", "ok")


@dataclass(frozen=True, slots=True, kw_only=True)
class FleetMeasured(_Event):
    """A fleet drill's storm as measured (see ``FleetResult.to_json``): percentiles,
    histogram, REGISTER load per site per second; ``declared`` is the file's size."""

    KIND = "fleet"
    LABEL = "fleet_result"
    declared: int
    storm: Mapping[str, Any]

    def fields(self) -> dict[str, Any]:
        return {"declared": self.declared, **self.storm}


Event: TypeAlias = (
    RunStarted | RunFinished | RunNotApplicable | ConnectionPlaced | RunErrored | StepStarted
    | StepFinished | ExpectationChecked | EndpointEvent | SipObserved | LabUp | LabDown
    | SiteUp | SiteDown | FaultApplied | FaultHealed | PartyChanged | FleetMeasured
)  # fmt: skip
EVENT_CLASSES: tuple[type[_Event], ...] = (
    RunStarted, RunFinished, RunNotApplicable, ConnectionPlaced, RunErrored, StepStarted,
    StepFinished, ExpectationChecked, SipObserved, LabUp, LabDown, SiteUp, SiteDown, FaultApplied,
    FaultHealed, PartyChanged, FleetMeasured,
)  # fmt: skip
_BY_FORM = {(c.KIND, c.LABEL): c for c in EVENT_CLASSES}
# the labels a drill's `event:` may name, and the classes behind them
MATCHABLE = ("ConnectionStatusChanged", "SessionStatusChanged", "fault_applied",
             "fault_healed", "site_up", "site_down", "sip")  # fmt: skip


def from_json(form: Mapping[str, Any]) -> Event:
    """An event from its JSON form (a timeline's); ValueError names what does not fit."""
    try:
        t, kind, data = float(form["t"]), str(form["kind"]), dict(form.get("data", {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an event: {form!r:.120}") from exc
    label = data.pop("event", None)
    try:
        if kind == "endpoint":
            return checked(EndpointEvent(t=t, event=phone_event(str(label), data, t)))  # type: ignore[no-any-return]
        if kind == "expectation":
            data.setdefault("at", t)  # timelines written before `at` was recorded
        if kind == "fleet":
            declared = data.pop("declared", data.get("endpoints", 0))
            check_storm(data)
            return checked(FleetMeasured(t=t, declared=declared, storm=data))  # type: ignore[no-any-return]
        if kind == "lab" and label in ("fault_applied", "fault_healed"):  # a format-1 storm's
            data.setdefault("params", {})
            data.setdefault("requested_at", t)
            data.setdefault("applied_at", t)
            data.setdefault("healed_at", t if label == "fault_healed" else None)
        if kind == "lab" and label == "lab_up":
            data["sites"] = tuple(data.get("sites", ()))
        if kind == "not_applicable" and isinstance(data.get("reasons"), list):
            data["reasons"] = tuple(data["reasons"])
        if isinstance(data.get("references"), list):
            data["references"] = tuple(data["references"])
        cls = _BY_FORM.get((kind, label))
        if cls is None:
            raise ValueError(f"unknown event kind {kind!r}" + (f" ({label})" if label else ""))
        return checked(cls(t=t, **data))  # type: ignore[no-any-return]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"event {kind!r} at {t}s: {exc}") from exc
