"""What every step is: a schema model (one per action) with its cross-field checks, and
the handler that does it, registered together with :func:`handles`.

Adding an action is one model (a subclass of :class:`Action` naming its ``ACTION``, the
key a drill writes) and one handler::

    class Sleep(Action):
        ACTION = "sleep"
        sleep: Duration

        def check(self, c: Checker, loc: Loc) -> None:
            c.bound(self.sleep, (*loc, "sleep"))

    @handles(Sleep)
    async def sleep(run: StepRun, step: Sleep, place: Place) -> None:
        await asyncio.sleep(run.seconds(step.sleep))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import model_validator

from lab.errors import ExprError
from lab.scenario.expr import names, parse_bound, seconds
from lab.scenario.models import ConnectionSpec, Duration, EventMatch, Strict

if TYPE_CHECKING:
    from endpoint.config import ConnectionConfig
    from lab.drivers.control import EndpointControl
    from lab.labs.interface import FaultRecord, LabInterface
    from lab.stream.events import Event

Loc = tuple[str | int, ...]
WINDOW_KEYS = ("within", "after_event", "before", "count", "absent")


class Action(Strict):
    """A step: ``id`` (for ``after:``, ``before:``, ``heal:``), ``note``, and one action."""

    ACTION: ClassVar[str]
    id: str | None = None
    note: str | None = None
    after: str | None = None  # waits: the window starts at that step's time

    @model_validator(mode="before")
    @classmethod
    def _window_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls.ACTION not in ("wait_for", "expect"):
            if "within" in data:
                raise ValueError("'within' belongs to wait_for and expect steps")
            if "after_event" in data or "before" in data:
                raise ValueError(
                    "'after_event' and 'before' belong to wait_for and expect steps"
                )
            if "after" in data:
                raise ValueError("'after' belongs to wait_for and expect steps")
        if (
            isinstance(data, dict)
            and cls.ACTION != "expect"
            and ("count" in data or "absent" in data)
        ):
            raise ValueError("'count' and 'absent' belong to expect steps")
        return data

    @property
    def action(self) -> str:
        return self.ACTION

    def check(self, c: Checker, loc: Loc) -> None:
        """Checks across fields (sites, sessions, bounds exist), into ``c``."""


@dataclass
class Checker:
    """What a step's cross-field checks see: the drill's sites, the names its bounds may
    use, the sessions and step ids named so far; problems go to ``errors``."""

    sites: list[str]
    env: dict[str, float]
    mode: str = "real"
    backend: str = "auto"
    proxy: bool = True
    dns: bool = False  # the drill has a dns: section
    connections: set[int] = field(default_factory=set)  # the endpoint's, at this step
    known_connections: set[int] = field(default_factory=set)  # any it has had
    sessions: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)
    fault_ids: set[str] = field(default_factory=set)
    errors: list[tuple[Loc, str]] = field(default_factory=list)

    def error(self, loc: Loc, message: str) -> None:
        self.errors.append((loc, message))

    def site(self, name: str, loc: Loc) -> None:
        if name not in self.sites:
            self.error(loc, f"unknown site {name!r}; sites: {', '.join(self.sites)}")

    def bound(self, value: Duration, loc: Loc) -> None:
        """A bound that names known settings and comes to a sane number of seconds."""
        try:
            unknown = names(parse_bound(value)) - set(self.env)
            if not unknown:
                seconds(value, self.env)
        except ExprError as exc:
            self.error(loc, str(exc))
            return
        if unknown:
            known = ", ".join(sorted(self.env))
            self.error(loc, f"unknown name(s) {', '.join(sorted(unknown))}; known: {known}")

    def connection(self, conn_id: int, loc: Loc) -> None:
        if conn_id not in self.connections:
            have = ", ".join(str(c) for c in sorted(self.connections)) or "none"
            self.error(loc, f"the endpoint has no connection {conn_id} here; it has: {have}")

    def match(self, match: EventMatch, loc: Loc) -> None:
        """An event to wait for or rule out names things that exist: else a check on it
        could never fail (or never pass)."""
        conn = match.fields.get("connection", match.fields.get("connection_id"))
        if isinstance(conn, int) and conn not in self.known_connections:
            self.error((*loc, "connection"), f"the drill has no connection {conn}")
        site = match.fields.get("site")
        if isinstance(site, str):
            self.site(site, (*loc, "site"))

    def session(self, alias: str, loc: Loc) -> None:
        if alias not in self.sessions:
            self.error(loc, f"no session named {alias!r} before this step")


@dataclass(frozen=True)
class Place:
    """Where a step stands in its drill: its index and its line in the file."""

    index: int
    line: int


class StepRun(Protocol):
    """What a step's handler may use of the running drill."""

    env: dict[str, float]
    sessions: dict[str, str]  # alias -> session id
    faults: dict[str, list[FaultRecord]]  # step id -> the faults it applied

    @property
    def lab(self) -> LabInterface: ...
    @property
    def endpoint(self) -> EndpointControl: ...
    def now(self) -> float: ...
    def seconds(self, bound: Duration) -> float: ...
    def emit(self, event: Event) -> Event: ...
    def background(self, coro: Coroutine[Any, Any, None]) -> None: ...
    async def session(self, alias: str, place: Place) -> str: ...
    def connection_config(self, spec: ConnectionSpec, conn_id: int) -> ConnectionConfig: ...
    async def expect(self, step: Any, place: Place) -> None: ...
    async def start_caller(self, step: Any, place: Place) -> None: ...


A = TypeVar("A", bound=Action)
Handler = Callable[[StepRun, Any, Place], Awaitable[None]]
MODELS: dict[str, type[Action]] = {}  # action key -> model, in registration order
HANDLERS: dict[type[Action], Handler] = {}


def handles(model: type[A]) -> Callable[[Callable[[StepRun, A, Place], Awaitable[None]]], Handler]:
    """Register ``model`` as the step written ``{model.ACTION: …}`` and the decorated
    coroutine as what doing it means."""

    def register(fn: Callable[[StepRun, A, Place], Awaitable[None]]) -> Handler:
        if model.ACTION in MODELS:
            raise ValueError(f"step action {model.ACTION!r} is registered twice")
        MODELS[model.ACTION] = model
        HANDLERS[model] = fn
        return fn

    return register
