"""Waiting and expecting: ``wait_for`` (the drill stops if it never comes), ``expect``
(checked, the drill goes on), ``sleep``. The windows they look in: :mod:`lab.run.windows`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from lab.scenario.models import Duration, EventMatch, Reference, StateMatch
from lab.steps.base import Action, Checker, Loc, Place, StepRun, handles


class _Wait(Action):
    within: Duration | None = None
    references: list[Reference] = Field(default_factory=list, max_length=16)  # its rules
    after_event: EventMatch | None = None  # ... or at the first such event since then
    before: str | None = None  # the event must come before that (earlier) step began

    @property
    def match(self) -> EventMatch:
        raise NotImplementedError

    def check(self, c: Checker, loc: Loc) -> None:
        if self.within is not None:
            c.bound(self.within, (*loc, "within"))
        c.match(self.match, (*loc, self.ACTION))
        if self.after_event is not None:
            c.match(self.after_event, (*loc, "after_event"))
        wanted = self.match.fields.get("session")
        if isinstance(wanted, str):
            c.session(wanted, (*loc, self.ACTION, "session"))


class WaitFor(_Wait):
    ACTION = "wait_for"
    wait_for: EventMatch

    @property
    def match(self) -> EventMatch:
        return self.wait_for


def _what(value: Any) -> str:
    return "[state]" if isinstance(value, dict) and "state" in value else "[event]"


class Expect(_Wait):
    ACTION = "expect"
    # an event in a window, or a state (a connection's or a session's status)
    expect: Annotated[
        Annotated[EventMatch, Tag("[event]")] | Annotated[StateMatch, Tag("[state]")],
        Discriminator(_what),
    ]
    count: int | None = Field(default=None, ge=1)  # at least this many matches
    absent: bool = False  # no match within the window

    @model_validator(mode="after")
    def _absent_needs_within(self) -> Expect:
        if self.absent and self.within is None:
            raise ValueError("an 'absent' expectation needs 'within'")
        if isinstance(self.expect, StateMatch):
            used = [k for k in ("count", "absent", "after_event", "before")
                    if k in self.model_fields_set]  # fmt: skip
            if used:
                raise ValueError(f"a state expectation takes 'within' and 'after', not "
                                 f"{', '.join(used)}")  # fmt: skip
        return self

    @property
    def match(self) -> EventMatch:
        if isinstance(self.expect, StateMatch):
            raise TypeError("a state expectation matches no event")
        return self.expect

    def check(self, c: Checker, loc: Loc) -> None:
        if not isinstance(self.expect, StateMatch):
            super().check(c, loc)
            return
        if self.within is not None:
            c.bound(self.within, (*loc, "within"))
        state = self.expect.state
        if state.connection is not None and state.connection not in c.known_connections:
            c.error((*loc, "expect", "state", "connection"),
                    f"the drill has no connection {state.connection}")  # fmt: skip
        if state.session is not None:
            c.session(state.session, (*loc, "expect", "state", "session"))


class Sleep(Action):
    ACTION = "sleep"
    sleep: Duration

    def check(self, c: Checker, loc: Loc) -> None:
        c.bound(self.sleep, (*loc, "sleep"))


@handles(WaitFor)
async def wait_for(run: StepRun, step: WaitFor, place: Place) -> None:
    await run.expect(step, place)


@handles(Expect)
async def expect(run: StepRun, step: Expect, place: Place) -> None:
    await run.expect(step, place)


@handles(Sleep)
async def sleep(run: StepRun, step: Sleep, place: Place) -> None:
    await asyncio.sleep(run.seconds(step.sleep))
