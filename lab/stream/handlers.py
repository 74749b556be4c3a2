"""One interface for every consumer of the stream (console, JSON timeline, JUnit, HTML,
Markdown): ``start`` once, ``handle`` each event of each drill as it happens, ``finish``
once. A run's drills may interleave (``geolab run -n 4``): each event comes with the
index of the drill it belongs to, in file order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lab.stream.events import Event
from lab.stream.results import ScenarioResult


@dataclass
class RunContext:
    """What a whole run is: its metadata (id, seed, mode, backend, started), how many
    drills it has, and where its reports go."""

    meta: dict[str, Any]
    drills: int
    folder: Path | None = None
    parallel: bool = False
    written: dict[str, Path] = field(default_factory=dict)  # report name -> file


class Handler(Protocol):
    def start(self, ctx: RunContext) -> None: ...
    def handle(self, ctx: RunContext, drill: int, event: Event) -> None: ...
    def finish(self, ctx: RunContext) -> None: ...


class Collector:
    """A handler that keeps each drill's events; at the end, :meth:`results` tells them as
    :class:`ScenarioResult` objects, in drill order. Reports that render a whole run at
    once derive from it."""

    def __init__(self) -> None:
        self.events: dict[int, list[Event]] = {}

    def start(self, ctx: RunContext) -> None:
        self.events = {}

    def handle(self, ctx: RunContext, drill: int, event: Event) -> None:
        self.events.setdefault(drill, []).append(event)

    def finish(self, ctx: RunContext) -> None:
        return None

    def results(self) -> list[ScenarioResult]:
        return [ScenarioResult.of(self.events[i]) for i in sorted(self.events)]


class Stream:
    """Hands each drill's events to every handler; a drill's own listeners (the runner's
    waits) are not handlers: see :class:`lab.run.runner.ScenarioRunner`."""

    def __init__(self, ctx: RunContext, handlers: Sequence[Handler]) -> None:
        self.ctx = ctx
        self.handlers = list(handlers)

    def start(self) -> None:
        for h in self.handlers:
            h.start(self.ctx)

    def listener(self, drill: int) -> DrillListener:
        return DrillListener(self, drill)

    def finish(self) -> None:
        for h in self.handlers:
            h.finish(self.ctx)


@dataclass(frozen=True)
class DrillListener:
    """The stream as one drill's runner sees it: a callable taking that drill's events."""

    stream: Stream
    drill: int

    def __call__(self, event: Event) -> None:
        for h in self.stream.handlers:
            h.handle(self.stream.ctx, self.drill, event)


def replay(ctx: RunContext, handlers: Sequence[Handler], runs: Iterable[Sequence[Event]]) -> None:
    """Feed recorded drills (a timeline's) through ``handlers`` as if they ran now."""
    stream = Stream(ctx, handlers)
    stream.start()
    for i, events in enumerate(runs):
        listener = stream.listener(i)
        for event in events:
            listener(event)
    stream.finish()
