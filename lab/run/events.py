"""The run's event stream. Every producer (lab, endpoint, parties, steps, checks) writes
here; every consumer (console, JSON timeline, JUnit, HTML, Markdown) reads from here."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class RunEvent:
    t: float  # seconds since the run started (the run's monotonic clock)
    kind: str  # run_start, step_start, step_end, lab, endpoint, party, expectation, error, run_end
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Expectation:
    step: int | None  # None for invariants
    line: int
    expected: str
    passed: bool
    observed: str
    t: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScenarioResult:
    name: str
    source: str
    backend: str
    mode: str
    seed: int
    passed: bool = False
    duration: float = 0.0
    expectations: list[Expectation] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)

    @property
    def failures(self) -> list[Expectation]:
        return [e for e in self.expectations if not e.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "backend": self.backend, "mode": self.mode,
            "seed": self.seed, "passed": self.passed, "duration": self.duration,
            "expectations": [e.to_json() for e in self.expectations], "errors": self.errors,
            "events": [e.to_json() for e in self.events],
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScenarioResult:
        result = cls(
            name=data["name"],
            source=data["source"],
            backend=data["backend"],
            mode=data.get("mode", "real"),
            seed=data.get("seed", 0),
            passed=data["passed"],
            duration=data["duration"],
        )
        result.expectations = [Expectation(**e) for e in data.get("expectations", [])]
        result.errors = list(data.get("errors", []))
        result.events = [RunEvent(**e) for e in data.get("events", [])]
        return result
