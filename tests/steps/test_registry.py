"""Every step action is one model and one handler, registered together; the step schema
is the union of the registered models, picked by the action key a step carries; handlers
do their action through the run they are given."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from lab.steps import ACTIONS, Step, handler_of
from lab.steps.base import HANDLERS, MODELS, Action, Place, handles

EXAMPLES: dict[str, dict[str, Any]] = {
    "wait_for": {"wait_for": {"event": "site_up"}},
    "expect": {"expect": {"event": "sip"}, "within": "1s"},
    "sleep": {"sleep": "1s"},
    "fault": {"fault": {"kind": "kill", "site": "a"}},
    "heal": {"heal": "all"},
    "nemesis": {"nemesis": {"duration": "5s"}},
    "dial": {"dial": {"connection": 0, "destination": "6001", "as": "c"}},
    "answer": {"answer": "c"},
    "hangup": {"hangup": "c"},
    "hold": {"hold": "c"},
    "resume": {"resume": "c"},
    "call": {"call": {"site": "a"}},
    "add_connection": {"add_connection": {"site": "a", "id": 3}},
    "enable_connection": {"enable_connection": 1},
    "disable_connection": {"disable_connection": 1},
    "remove_connection": {"remove_connection": 1},
}
STEP: TypeAdapter[Action] = TypeAdapter(Step)


def test_every_action_has_a_model_and_a_handler_and_an_example() -> None:
    assert set(ACTIONS) == set(MODELS) == set(EXAMPLES)
    assert set(HANDLERS) == set(MODELS.values())


@pytest.mark.parametrize("action", sorted(EXAMPLES))
def test_the_action_key_picks_the_model(action: str) -> None:
    step = STEP.validate_python(EXAMPLES[action])
    assert type(step) is MODELS[action] and step.action == action
    assert handler_of(step) is HANDLERS[MODELS[action]]


def test_a_step_with_two_actions_or_none_says_what_a_step_does() -> None:
    with pytest.raises(ValidationError, match=r"does exactly one of .*; this one does sleep, heal"):
        STEP.validate_python({"sleep": "1s", "heal": "all"})
    with pytest.raises(ValidationError, match="this one does nothing"):
        STEP.validate_python({"note": "x"})


def test_an_action_cannot_be_registered_twice() -> None:
    class Sleepy(Action):
        ACTION = "sleep"

    with pytest.raises(ValueError, match="registered twice"):
        handles(Sleepy)(HANDLERS[MODELS["sleep"]])


class FakeEndpoint:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Any:
        async def command(*args: Any) -> str:
            self.calls.append((name, args))
            return "sid-1"

        return command


class FakeRun:
    def __init__(self) -> None:
        self.endpoint = FakeEndpoint()
        self.sessions: dict[str, str] = {}

    async def session(self, alias: str, timeout: float = 10.0) -> str:
        return self.sessions[alias]


def test_handlers_give_the_endpoint_its_commands() -> None:
    run = FakeRun()

    async def main() -> None:
        for action in ("dial", "hold", "resume", "hangup", "disable_connection"):
            step = STEP.validate_python(EXAMPLES[action])
            await handler_of(step)(run, step, Place(0, 1))  # type: ignore[arg-type]

    asyncio.run(main())
    assert run.sessions == {"c": "sid-1"}
    assert run.endpoint.calls == [
        ("dial", (0, "6001")), ("hold", ("sid-1",)), ("resume", ("sid-1",)),
        ("hangup", ("sid-1",)), ("disable_connection", (1,)),
    ]  # fmt: skip
