"""The scenario format (see docs/scenarios.md). Models are strict: unknown fields are
errors, so a typo never silently does nothing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from lab.scenario.expr import ExprError, names, parse_bound

CONNECTION_FIELDS = (
    "reg_interval",
    "retry_interval",
    "transaction_timeout",
    "keepalive_interval",
    "keepalive_timeout",
)
ENDPOINT_FIELDS = ("invite_timeout",)
ACTIONS = (
    "wait_for",
    "expect",
    "sleep",
    "fault",
    "heal",
    "dial",
    "answer",
    "hangup",
    "hold",
    "resume",
    "add_connection",
    "enable_connection",
    "disable_connection",
    "remove_connection",
    "call",
    "nemesis",
)
Duration = str | float | int


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Topology(Strict):
    sites: list[str] = Field(default_factory=lambda: ["a", "b"], min_length=1)
    backend: Literal["auto", "kamailio", "embedded", "compose"] = "auto"
    transport: Literal["udp", "tcp"] = "udp"
    password: str | None = None
    proxy: bool = True


class ConnectionSpec(Strict):
    site: str
    user: str = "5001"
    id: int | None = None
    protocol: Literal["udp", "tcp"] | None = None
    reg_interval: float = 3600
    retry_interval: float = 30
    transaction_timeout: float = 32
    keepalive: Literal["options", "crlf"] | None = None
    keepalive_interval: float = 30
    keepalive_timeout: float = 5
    password: str | None = None
    enabled: bool = True


class EndpointSpec(Strict):
    connections: list[ConnectionSpec] = Field(default_factory=list)
    config: str | None = None  # a SipEndpoint.config / YAML file; servers named by site
    invite_timeout: float = 32
    failover: bool = True
    auto_answer: bool = False


class PartySpec(Strict):
    name: str
    kind: Literal["callee"]
    site: str | list[str]
    user: str = "6001"
    calls: int = Field(default=1, ge=1, le=100)
    ring_ms: int = Field(default=0, ge=0)


class EventMatch(BaseModel):
    """``event`` plus any fields the event must carry (``connection: 0, status: Unavailable``)."""

    model_config = ConfigDict(extra="allow")
    event: Literal[
        "ConnectionStatusChanged",
        "SessionStatusChanged",
        "fault_applied",
        "fault_healed",
        "site_up",
        "site_down",
        "sip",
    ]

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def describe(self) -> str:
        return " ".join([self.event, *(f"{k}={v}" for k, v in self.fields.items())])


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="allow")  # the fault's own parameters
    kind: str
    site: str
    via: Literal["process", "proxy", "kernel", "network"] | None = None
    duration: Duration | None = None  # heal by itself after that long

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DialSpec(Strict):
    connection: int
    destination: str
    as_: str | None = Field(default=None, alias="as")


class CallSpec(Strict):
    site: str
    to: str = "5001"
    as_: str | None = Field(default=None, alias="as")
    auto_answer: bool = False
    hold_ms: int = Field(default=1000, ge=0)
    transport: Literal["udp", "tcp"] = "udp"


NemesisFault = Literal["kill", "hang", "partition", "down", "latency", "loss"]


def _default_nemesis_faults() -> list[NemesisFault]:
    return ["kill", "hang", "partition"]


class NemesisSpec(Strict):
    seed: int = 0
    duration: Duration
    interval: Duration = "5s"
    faults: list[NemesisFault] = Field(default_factory=_default_nemesis_faults)
    sites: list[str] | None = None


class AddConnectionSpec(ConnectionSpec):
    id: int


class Step(Strict):
    id: str | None = None
    note: str | None = None
    within: Duration | None = None
    after: str | None = None  # the window starts at that step's time
    after_event: EventMatch | None = None  # ... or at the first such event since then
    before: str | None = None  # the event must come before that (earlier) step began
    count: int | None = Field(default=None, ge=1)  # expect at least this many matches
    absent: bool = False  # expect no match within the window
    wait_for: EventMatch | None = None
    expect: EventMatch | None = None
    sleep: Duration | None = None
    fault: FaultSpec | None = None
    heal: str | int | None = None  # "all", a site name, or a fault step's id
    dial: DialSpec | None = None
    answer: str | None = None
    hangup: str | None = None
    hold: str | None = None
    resume: str | None = None
    add_connection: AddConnectionSpec | None = None
    enable_connection: int | None = None
    disable_connection: int | None = None
    remove_connection: int | None = None
    call: CallSpec | None = None
    nemesis: NemesisSpec | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        given = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step does exactly one of {', '.join(ACTIONS)}; this one does "
                f"{', '.join(given) or 'nothing'}"
            )
        if self.within is not None and self.action not in ("wait_for", "expect"):
            raise ValueError("'within' belongs to wait_for and expect steps")
        if (self.after_event is not None or self.before is not None) and self.action not in (
            "wait_for",
            "expect",
        ):
            raise ValueError("'after_event' and 'before' belong to wait_for and expect steps")
        if (self.count is not None or self.absent) and self.action != "expect":
            raise ValueError("'count' and 'absent' belong to expect steps")
        if self.absent and self.within is None:
            raise ValueError("an 'absent' expectation needs 'within'")
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)


class Invariant(Strict):
    never: EventMatch | None = None
    check: Literal["no_dial_on_unavailable", "one_event_per_change"] | None = None

    @model_validator(mode="after")
    def _one(self) -> Invariant:
        if (self.never is None) == (self.check is None):
            raise ValueError("an invariant is either 'never: {event …}' or 'check: NAME'")
        return self


class OutageSpec(Strict):
    """The site that goes down under the fleet, how, when and for how long."""

    site: str = "a"
    kind: Literal["kill", "hang", "stop", "down", "partition"] = "kill"
    at: Duration = "60s"
    for_: Duration = Field(default="120s", alias="for")


class FleetExpect(Strict):
    """Verdicts over the storm; bounds may use the fleet's settings (``retry_interval``…)."""

    unrecovered_at_most: int = Field(default=0, ge=0)
    p50_within: Duration | None = None
    p90_within: Duration | None = None
    p99_within: Duration | None = None
    max_within: Duration | None = None
    peak_register_per_s_at_most: dict[str, int] = Field(default_factory=dict)


FLEET_BOUNDS = ("p50", "p90", "p99", "max")


class FleetSpec(Strict):
    """N endpoints, one connection per site each, and one site outage: the storm when it
    returns."""

    endpoints: int = Field(ge=1, le=100_000)
    real_endpoints: int | None = Field(default=None, ge=1)  # the size on real sites
    reg_interval: float = Field(default=300, gt=0)
    retry_interval: float = Field(default=30, gt=0)
    transaction_timeout: float = Field(default=8, gt=0)
    boot: Duration = "1s"  # start-up spread, as real phones boot
    outage: OutageSpec = Field(default_factory=OutageSpec)
    settle: Duration = "120s"  # how long after the return every endpoint has to come back
    expect: FleetExpect = Field(default_factory=FleetExpect)
    # in simulation, run the fleet's shards (one per 1,000 endpoints) this many processes at
    # a time; the storm is the same whatever the number
    workers: int = Field(default=1, ge=1, le=64)
    duration: Duration | None = None  # in simulation, run on to this time after the storm

    def size(self, mode: str) -> int:
        if mode == "real" and self.real_endpoints is not None:
            return min(self.endpoints, self.real_endpoints)
        return self.endpoints


class Scenario(Strict):
    name: str
    description: str = ""
    mode: Literal["real", "sim"] = "real"
    topology: Topology = Field(default_factory=Topology)
    endpoint: EndpointSpec = Field(default_factory=EndpointSpec)
    parties: list[PartySpec] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    fleet: FleetSpec | None = None
    invariants: list[Invariant] = Field(default_factory=list)
    timeout: Duration = "120s"
    _source: str = PrivateAttr(default="")
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)
    _step_lines: list[int] = PrivateAttr(default_factory=list)
    _file_env: dict[str, float] = PrivateAttr(default_factory=dict)  # from endpoint.config

    @property
    def source(self) -> str:
        return self._source

    @source.setter
    def source(self, value: str) -> None:
        self._source = value

    @property
    def lines(self) -> dict[str, int]:
        return self._lines

    @lines.setter
    def lines(self, value: dict[str, int]) -> None:
        self._lines = value

    def use_config_file(self, connections: list[Any], invite_timeout: float) -> None:
        """Bounds may name the settings of an endpoint.config file's connections."""
        env: dict[str, float] = {"invite_timeout": invite_timeout}
        for i, conn in enumerate(connections):
            for name in CONNECTION_FIELDS:
                env[f"conn{conn.id}.{name}"] = float(getattr(conn, name))
                if i == 0:
                    env[name] = float(getattr(conn, name))
        self._file_env = env

    @property
    def step_lines(self) -> list[int]:
        return self._step_lines

    @step_lines.setter
    def step_lines(self, value: list[int]) -> None:
        self._step_lines = value

    def env(self) -> dict[str, float]:
        """The names a bound may use: connection 0's settings, ``connN.<setting>``, and the
        endpoint's ``invite_timeout``."""
        env: dict[str, float] = {"invite_timeout": self.endpoint.invite_timeout, **self._file_env}
        if self.fleet is not None:
            for name in ("reg_interval", "retry_interval", "transaction_timeout"):
                env[name] = float(getattr(self.fleet, name))
        for i, conn in enumerate(self.endpoint.connections):
            cid = conn.id if conn.id is not None else i
            for name in CONNECTION_FIELDS:
                env[f"conn{cid}.{name}"] = float(getattr(conn, name))
                if i == 0:
                    env[name] = float(getattr(conn, name))
        return env


def semantic_errors(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    """Checks across fields: sites, sessions, step ids and names in bounds all exist."""
    errors: list[tuple[tuple[str | int, ...], str]] = []
    sites = set(s.topology.sites)
    if len(sites) != len(s.topology.sites):
        errors.append((("topology", "sites"), "site names repeat"))

    def site_ok(name: str, loc: tuple[str | int, ...]) -> None:
        if name not in sites:
            errors.append((loc, f"unknown site {name!r}; sites: {', '.join(s.topology.sites)}"))

    for i, conn in enumerate(s.endpoint.connections):
        site_ok(conn.site, ("endpoint", "connections", i, "site"))
    for i, party in enumerate(s.parties):
        for name in [party.site] if isinstance(party.site, str) else party.site:
            site_ok(name, ("parties", i, "site"))
    env = s.env()

    def bound_ok(value: Duration, loc: tuple[str | int, ...]) -> None:
        try:
            unknown = names(parse_bound(value)) - set(env)
        except ExprError as exc:
            errors.append((loc, str(exc)))
            return
        if unknown:
            errors.append(
                (
                    loc,
                    f"unknown name(s) {', '.join(sorted(unknown))}; "
                    f"known: {', '.join(sorted(env))}",
                )
            )

    if s.fleet is None and not s.steps:
        errors.append((("steps",), "a scenario needs steps (one endpoint) or a fleet (a storm)"))
    if s.fleet is not None:
        fleet = s.fleet
        for key in ("steps", "endpoint", "parties", "invariants"):
            if key in s.model_fields_set:
                errors.append(((key,), f"a fleet scenario has no {key}: the fleet is the drill"))
        if len(sites) < 2:
            errors.append((("topology", "sites"), "a fleet needs two sites or more"))
        site_ok(fleet.outage.site, ("fleet", "outage", "site"))
        bound_ok(fleet.outage.at, ("fleet", "outage", "at"))
        bound_ok(fleet.outage.for_, ("fleet", "outage", "for"))
        for key in ("boot", "settle", "duration"):
            if getattr(fleet, key) is not None:
                bound_ok(getattr(fleet, key), ("fleet", key))
        for key in FLEET_BOUNDS:
            value = getattr(fleet.expect, f"{key}_within")
            if value is not None:
                bound_ok(value, ("fleet", "expect", f"{key}_within"))
        for name in fleet.expect.peak_register_per_s_at_most:
            site_ok(name, ("fleet", "expect", "peak_register_per_s_at_most", name))
    ids: set[str] = set()
    sessions: set[str] = set()
    for i, step in enumerate(s.steps):
        loc: tuple[str | int, ...] = ("steps", i)
        for key in ("after", "before"):
            ref = getattr(step, key)
            if ref is not None and ref not in ids:
                errors.append(((*loc, key), f"no earlier step with id {ref!r}"))
        if step.id is not None:
            if step.id in ids:
                errors.append(((*loc, "id"), f"step id {step.id!r} is used twice"))
            ids.add(step.id)
        for key in ("within", "sleep"):
            value = getattr(step, key)
            if value is not None:
                bound_ok(value, (*loc, key))
        if step.fault is not None:
            site_ok(step.fault.site, (*loc, "fault", "site"))
        if step.call is not None:
            site_ok(step.call.site, (*loc, "call", "site"))
            if step.call.as_:
                sessions.add(step.call.as_)
        if step.dial is not None and step.dial.as_:
            sessions.add(step.dial.as_)
        for key in ("answer", "hangup", "hold", "resume"):
            alias = getattr(step, key)
            if alias is not None and alias not in sessions:
                errors.append(((*loc, key), f"no session named {alias!r} before this step"))
        if step.nemesis is not None:
            for name in step.nemesis.sites or []:
                site_ok(name, (*loc, "nemesis", "sites"))
        match = step.wait_for or step.expect
        wanted = match.fields.get("session") if match is not None else None
        if isinstance(wanted, str) and wanted not in sessions:
            errors.append(
                ((*loc, step.action, "session"), f"no session named {wanted!r} before this step")
            )
    return errors
