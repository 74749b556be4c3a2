"""Expectation windows: where a ``wait_for`` or ``expect`` looks in the stream, and the
waiting for it.

A window starts at the last action step (a stream position and its time: in virtual time
many events share one instant), or at an earlier step (``after:``), or at the first event
of a kind since then (``after_event:``); it ends ``within`` later, or where a step began
(``before:``). ``count:`` wants several matches, ``absent:`` none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from lab.errors import StepFailed
from lab.run.checks import describe, matches
from lab.scenario.expr import seconds
from lab.scenario.models import EventMatch, State, StateMatch
from lab.stream.events import EndpointEvent, Event, StepStarted
from lab.stream.results import Expectation

if TYPE_CHECKING:
    from lab.steps.waits import Expect, WaitFor

DEFAULT_WITHIN = 30.0
LATE_SCAN = 500  # events looked back at for late arrivals
LATE_SPAN = 1.0  # s: a late arrival is late by far less than this


class Windows:
    """Waits on one drill's stream (``events``, told of each arrival by :meth:`arrived`)."""

    def __init__(
        self,
        events: list[Event],
        sessions: dict[str, str],
        env: dict[str, float],
        now: Callable[[], float],
        record: Callable[[Expectation], None],
    ) -> None:
        self.events = events
        self.sessions = sessions
        self.env = env
        self.now = now
        self.record = record
        self.anchor = (0, 0.0)  # where windows start: the last action step's position, time
        self._arrived = asyncio.Event()

    def arrived(self) -> None:
        self._arrived.set()

    def mark(self) -> None:
        """An action step began (its StepStarted is the newest event)."""
        self.anchor = (len(self.events) - 1, self.events[-1].t)

    async def session(self, alias: str, index: int, line: int, timeout: float = 10.0) -> str:
        """The session ``alias`` names, once known; if it never is, a failed expectation
        says so and the drill cannot go on (StepFailed)."""
        try:
            async with asyncio.timeout(timeout):
                while alias not in self.sessions:
                    await self.changed()
        except TimeoutError:
            self.record(Expectation(index, line, f"session {alias!r} (from its dial or call)",
                                    False, f"it never appeared within {timeout:g}s", self.now()))
            raise StepFailed(alias) from None
        return self.sessions[alias]

    async def changed(self, timeout: float | None = None) -> bool:
        """Until another event arrives (False: ``timeout`` passed first)."""
        self._arrived.clear()
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def state(self, state: State, upto: int | None = None) -> tuple[str | None, float | None]:
        """The status the connection or session had at stream position ``upto`` (now),
        and since when."""
        session = self.sessions.get(state.session) if state.session is not None else None
        for event in reversed(self.events[:upto]):
            if not isinstance(event, EndpointEvent):
                continue
            e = event.event
            if (isinstance(e, ConnectionStatusChanged) and e.connection == state.connection) or (
                    isinstance(e, SessionStatusChanged) and e.session == session):  # fmt: skip
                return str(e.status), event.t
        return None, None

    async def expect_state(
        self, step: WaitFor | Expect, match: StateMatch, index: int, line: int
    ) -> None:
        """True when the step runs, or (``within``) at some moment of the window."""
        start = self.now()
        if step.after is not None:
            start = self._step_mark(step.after, (0, start))[1]
        deadline = start + seconds(step.within, self.env) if step.within is not None else start
        want = match.state.status
        when = f" within {deadline - start:.3f}s of {start:.3f}s" if step.within else ""
        expected = match.describe() + (when or f" at {start:.3f}s")
        while True:
            status, since = self.state(match.state)
            if status == want:
                observed = f"{match.describe()} since {since:.3f}s"
                self.record(Expectation(index, line, expected, True, observed, self.now()))
                return
            remaining = deadline - self.now()
            if remaining <= 0 or not await self.changed(remaining):
                break
        said = "no status yet" if status is None else f"it was {status} since {since:.3f}s"
        self.record(Expectation(index, line, expected, False, said, self.now()))

    async def expect(self, step: WaitFor | Expect, index: int, line: int) -> None:
        wanted = getattr(step, "expect", None)
        if isinstance(wanted, StateMatch):
            await self.expect_state(step, wanted, index, line)
            return
        match = step.match
        waiting = step.ACTION == "wait_for"
        count = getattr(step, "count", None)
        absent = bool(getattr(step, "absent", False))
        pos, start = self.anchor
        if step.after is not None:
            pos, start = self._step_mark(step.after, (pos, start))
        if step.after_event is not None:  # the first such event (since the after: step)
            since = self._step_mark(step.after, (0, 0.0))[0] if step.after is not None else 0
            anchor_event = await self.first(step.after_event, since, self.now() + DEFAULT_WITHIN)
            if anchor_event is None:
                what = f"{step.after_event.describe()} (to start the window from)"
                self.record(Expectation(index, line, what, False, "it never happened", self.now()))
                if waiting:
                    raise StepFailed(what)
                return
            pos, start = self.events.index(anchor_event), anchor_event.t
        within = seconds(step.within, self.env) if step.within is not None else DEFAULT_WITHIN
        deadline = start + within
        end: int | None = None
        expected = f"{match.describe()} within {within:.3f}s of {start:.3f}s"
        if step.before is not None:
            end, deadline = self._step_mark(step.before, (len(self.events), self.now()))
            pos, start = 0, 0.0
            expected = f"{match.describe()} before step {step.before!r} began ({deadline:.3f}s)"
        late_from = None if step.before is not None else start
        if absent:
            expected = f"no {expected}"
            found = await self.first(match, pos, deadline, end, late_from)
            if found is not None:
                exp = Expectation(index, line, expected, False, describe(found), found.t)
            else:
                exp = Expectation(index, line, expected, True, "none happened", self.now())
            self.record(exp)
            return
        if count is not None:
            expected = f"at least {count} of {expected}"
            seen = await self.several(match, pos, deadline, count, late_from)
            passed = len(seen) >= count
            observed = f"{len(seen)} at " + ", ".join(f"{e.t:.3f}s" for e in seen[:12])
            last = seen[-1].t if seen else self.now()
            self.record(Expectation(index, line, expected, passed, observed, last))
            if not passed and waiting:
                raise StepFailed(expected)
            return
        found = await self.first(match, pos, deadline, end, late_from)
        if found is not None:
            exp = Expectation(index, line, expected, True, describe(found), found.t)
        else:
            seen = [e for e in self.events[pos:end] if e.label == match.event]
            observed = (
                ("nothing like it; saw " + "; ".join(describe(e) for e in seen[-3:]))
                if seen
                else f"no {match.event} event at all"
            )
            exp = Expectation(index, line, expected, False, observed, self.now())
        self.record(exp)
        if not exp.passed and waiting:
            raise StepFailed(expected)

    def _step_mark(self, step_id: str, default: tuple[int, float]) -> tuple[int, float]:
        marks = [
            (i, e.t)
            for i, e in enumerate(self.events)
            if isinstance(e, StepStarted) and e.id == step_id
        ]
        return marks[-1] if marks else default

    def _late(self, pos: int, start: float | None) -> list[Event]:
        """Events before stream position ``pos`` that happened after ``start``: a black-box
        endpoint's events and the wire's record come on two channels, so one may arrive a
        little after the other (never in virtual time, whose stream is in time order)."""
        if start is None:
            return []
        late = []
        for event in reversed(self.events[max(0, pos - LATE_SCAN) : pos]):
            if event.t > start:
                late.append(event)
            elif event.t < start - LATE_SPAN:
                break
        return sorted(late, key=lambda e: e.t)

    async def first(
        self, match: EventMatch, pos: int, deadline: float, end: int | None = None,
        start: float | None = None,
    ) -> Event | None:
        """The first matching event from stream position ``pos`` (to ``end``), waiting for
        it until ``deadline``; with ``start``, also one that arrived just before ``pos`` but
        happened after ``start``."""
        for event in self._late(pos, start):
            if event.t <= deadline and matches(event, match, self.sessions):
                return event
        checked = pos
        while True:
            for event in self.events[checked:end]:
                if event.t <= deadline and matches(event, match, self.sessions):
                    return event
            checked = len(self.events)
            remaining = deadline - self.now()
            if end is not None or remaining <= 0:
                return None
            if not await self.changed(remaining):
                return None

    async def several(
        self, match: EventMatch, pos: int, deadline: float, count: int,
        start: float | None = None,
    ) -> list[Event]:
        while True:
            seen = [
                e for e in [*self._late(pos, start), *self.events[pos:]]
                if e.t <= deadline and matches(e, match, self.sessions)
            ]
            remaining = deadline - self.now()
            if len(seen) >= count or remaining <= 0:
                return seen
            await self.changed(remaining)
