"""Calls: ``dial`` from a connection, ``answer`` / ``hold`` / ``resume`` / ``hangup`` a
session by its alias, and ``call``: a remote party calls the endpoint through a site."""

from __future__ import annotations

from lab.scenario.models import CallSpec, DialSpec
from lab.steps.base import Action, Checker, Loc, Place, StepRun, handles


class Dial(Action):
    ACTION = "dial"
    dial: DialSpec

    def check(self, c: Checker, loc: Loc) -> None:
        c.connection(self.dial.connection, (*loc, "dial", "connection"))
        if self.dial.as_:
            c.sessions.add(self.dial.as_)


class _OnSession(Action):
    def alias(self) -> str:
        return str(getattr(self, self.ACTION))

    def check(self, c: Checker, loc: Loc) -> None:
        c.session(self.alias(), (*loc, self.ACTION))


class Answer(_OnSession):
    ACTION = "answer"
    answer: str


class Hangup(_OnSession):
    ACTION = "hangup"
    hangup: str


class Hold(_OnSession):
    ACTION = "hold"
    hold: str


class Resume(_OnSession):
    ACTION = "resume"
    resume: str


class Call(Action):
    ACTION = "call"
    call: CallSpec

    def check(self, c: Checker, loc: Loc) -> None:
        c.site(self.call.site, (*loc, "call", "site"))
        if self.call.as_:
            c.sessions.add(self.call.as_)


@handles(Dial)
async def dial(run: StepRun, step: Dial, place: Place) -> None:
    sid = await run.endpoint.dial(step.dial.connection, step.dial.destination)
    if step.dial.as_:
        run.sessions[step.dial.as_] = sid


async def _on_session(run: StepRun, step: _OnSession, place: Place) -> None:
    sid = await run.session(step.alias(), place)
    await getattr(run.endpoint, step.ACTION)(sid)


for _model in (Answer, Hangup, Hold, Resume):
    handles(_model)(_on_session)


@handles(Call)
async def call(run: StepRun, step: Call, place: Place) -> None:
    await run.start_caller(step.call, place)
