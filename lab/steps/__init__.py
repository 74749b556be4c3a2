"""A drill's steps: one model and one handler per action (see :mod:`lab.steps.base`).

``Step`` is the discriminated union of every registered model: the action key a step
carries picks its model, so a step's errors are about that action alone."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Discriminator, Tag, model_validator

# isort: off
# the modules register their actions as they are imported; this order is the order that
# messages list the actions in
from lab.steps import waits, faults, calls, connections  # noqa: F401
# isort: on
from lab.steps.base import HANDLERS, MODELS, Action, Handler, Place, StepRun

ACTIONS = tuple(MODELS)


class _NoAction(Action):
    """A step with no action key: unknown keys are named as such; else it says what a
    step can do."""

    ACTION = "(none)"

    @model_validator(mode="after")
    def _none(self) -> _NoAction:
        raise ValueError(f"a step does exactly one of {', '.join(ACTIONS)}; this one does nothing")


class _SeveralActions(Action):
    ACTION = "(several)"

    @model_validator(mode="before")
    @classmethod
    def _several(cls, data: Any) -> Any:
        given = [a for a in ACTIONS if a in data]
        raise ValueError(
            f"a step does exactly one of {', '.join(ACTIONS)}; this one does {', '.join(given)}"
        )


def _which(data: Any) -> str:
    if isinstance(data, Action):
        return f"[{data.ACTION}]"
    if not isinstance(data, dict):
        return "[none]"
    given = [a for a in ACTIONS if a in data]
    if len(given) > 1:
        return "[several]"
    return f"[{given[0]}]" if given else "[none]"


if TYPE_CHECKING:
    Step = Action
else:
    # tags in brackets: the loader drops them from an error's path, as pydantic's own
    Step = Annotated[
        Union[
            (
                *(Annotated[m, Tag(f"[{a}]")] for a, m in MODELS.items()),
                Annotated[_NoAction, Tag("[none]")],
                Annotated[_SeveralActions, Tag("[several]")],
            )
        ],
        Discriminator(_which),
    ]


def handler_of(step: Action) -> Handler:
    return HANDLERS[type(step)]


__all__ = ["ACTIONS", "Action", "Handler", "Place", "Step", "StepRun", "handler_of"]
