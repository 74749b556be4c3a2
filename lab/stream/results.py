"""A drill's result, read from its part of the stream: what every report renders."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lab.stream.events import (
    Event,
    ExpectationChecked,
    FleetMeasured,
    LabUp,
    RunErrored,
    RunFinished,
    RunNotApplicable,
    RunStarted,
    from_json,
)
from lab.stream.typecheck import checked

NOT_APPLICABLE = "N/A"


@dataclass(frozen=True)
class Expectation:
    step: int | None  # None for invariants and fleet verdicts
    line: int
    expected: str
    passed: bool
    observed: str
    t: float  # the time it is about
    references: tuple[str, ...] = ()  # the rules it grades (its own; the drill's apart)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        if not self.references:
            del out["references"]
        else:
            out["references"] = list(self.references)
        return out

    def event(self, now: float) -> ExpectationChecked:
        return ExpectationChecked(
            t=now, step=self.step, line=self.line, passed=self.passed,
            expected=self.expected, observed=self.observed, at=self.t,
            references=self.references,
        )  # fmt: skip


@dataclass
class ScenarioResult:
    name: str
    source: str
    backend: str
    mode: str
    seed: int
    passed: bool = False
    driver: str = "inprocess"
    duration: float = 0.0
    expectations: list[Expectation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)  # what the driver lacks
    references: tuple[str, ...] = ()  # the rules the drill grades
    events: list[Event] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``PASS``, ``FAIL`` or ``N/A`` (the drill needs what the driver lacks: not run)."""
        if self.not_applicable:
            return NOT_APPLICABLE
        return "PASS" if self.passed else "FAIL"

    @property
    def failures(self) -> list[Expectation]:
        return [e for e in self.expectations if not e.passed]

    @property
    def fleet(self) -> FleetMeasured | None:
        return next((e for e in self.events if isinstance(e, FleetMeasured)), None)

    @classmethod
    def of(cls, events: Iterable[Event]) -> ScenarioResult:
        """The result a run's events tell: the first must be its RunStarted."""
        events = list(events)
        if not events or not isinstance(events[0], RunStarted):
            raise ValueError("a drill's events begin with run_start")
        start = events[0]
        result = cls(start.name, start.source, start.backend, start.mode, start.seed,
                     driver=start.driver, references=start.references)  # fmt: skip
        for e in events:
            if isinstance(e, LabUp):
                result.backend = e.backend
            elif isinstance(e, ExpectationChecked):
                seen = Expectation(e.step, e.line, e.expected, e.passed, e.observed, e.at,
                                   e.references)  # fmt: skip
                result.expectations.append(seen)
            elif isinstance(e, RunErrored):
                result.errors.append(e.message)
            elif isinstance(e, RunNotApplicable):
                result.not_applicable.extend(e.reasons)
            elif isinstance(e, RunFinished):
                result.passed, result.duration = e.passed, e.duration
        result.events = events
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "backend": self.backend, "mode": self.mode,
            "seed": self.seed, "driver": self.driver, "passed": self.passed,
            "duration": self.duration,
            "expectations": [e.to_json() for e in self.expectations], "errors": self.errors,
            **({"not_applicable": self.not_applicable} if self.not_applicable else {}),
            **({"references": list(self.references)} if self.references else {}),
            "events": [e.to_json() for e in self.events],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        """A timeline's scenario: its events, read back; verdict and expectations as the
        timeline recorded them."""
        result = cls(
            name=data["name"],
            source=data["source"],
            backend=data["backend"],
            mode=data.get("mode", "real"),
            seed=data.get("seed", 0),
            passed=data["passed"],
            duration=data["duration"],
            driver=data.get("driver", "inprocess"),
        )
        result.expectations = [
            checked(Expectation(**{**e, "references": tuple(e.get("references", ()))}))
            for e in data.get("expectations", [])
        ]
        result.references = tuple(str(r) for r in data.get("references", []))
        result.errors = list(data.get("errors", []))
        result.not_applicable = [str(r) for r in data.get("not_applicable", [])]
        result.events = [from_json(e) for e in data.get("events", [])]
        return result
