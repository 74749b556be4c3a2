"""The scenario format's building blocks (see docs/scenarios.md). Models are strict:
unknown fields are errors, so a typo never silently does nothing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from endpoint.config import TIME_SETTINGS, ConnectionSettings
from endpoint.core.events import ConnectionStatus, SessionStatus
from lab.dns.spec import DnsName, DnsSpec
from lab.drivers import REGISTRY
from lab.faults.kinds import NEMESIS, FaultKind, Layer, param_problems
from lab.scenario.references import problem as reference_problem

CONNECTION_FIELDS = TIME_SETTINGS  # the connection's settings a bound may name
ENDPOINT_FIELDS = ("invite_timeout", "session_expires")


def _a_rule(text: str) -> str:
    why = reference_problem(text)
    if why is not None:
        raise ValueError(why)
    return text


# what a drill, a wait or an invariant grades: a rule of the seed or an RFC clause
Reference = Annotated[str, AfterValidator(_a_rule)]


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")  # noqa: TRY004 (pydantic's error)
    return value


Duration = Annotated[str | float | int, BeforeValidator(_not_bool)]
MAX_SECONDS = 30 * 86400.0  # no setting or bound of a drill is longer than 30 days
# a time setting: finite, positive, at most MAX_SECONDS
Seconds = Annotated[float, Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
# a name that becomes part of a path, a process's arguments or a config file
Name = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]
# a SIP user part: no separators, no white space, no control characters
User = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$")]
# a secret that goes into generated configs and digests: printable, no quotes or backslash
Secret = Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Topology(Strict):
    sites: list[Name] = Field(default_factory=lambda: ["a", "b"], min_length=1, max_length=16)
    backend: Literal["auto", "kamailio", "embedded", "compose"] = "auto"
    transport: Literal["udp", "tcp", "tls", "ws", "wss"] = "udp"
    password: Secret | None = None
    proxy: bool = True
    # what a site presents on TLS: a certificate the endpoint should accept (valid, the
    # default), or one it must refuse
    certificates: dict[Name, Literal["valid", "wrong_ca", "expired", "wrong_name"]] = Field(
        default_factory=dict
    )
    # the names connections may reach their sites by, served by the lab's DNS (lab.dns);
    # none: connections are given their sites' addresses
    dns: DnsSpec | None = None


class ConnectionSpec(ConnectionSettings):
    """A drill's connection: the endpoint's connection settings (one model,
    :class:`endpoint.config.ConnectionSettings`), on one of the drill's sites; its protocol
    is the topology's unless given, and its password goes into site configs (no quotes,
    backslash or space)."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    site: str
    # reach the site by this name of the topology's dns: section (RFC 3263), not by address
    name: DnsName | None = None
    user: User = "5001"
    id: int | None = Field(default=None, ge=0, le=1_000_000)
    protocol: Literal["udp", "tcp", "tls", "ws", "wss"] | None = None  # type: ignore[assignment]
    password: Secret | None = None


class EndpointSpec(Strict):
    # who the endpoint under test is (lab.drivers): geolab's phone in-process, a process
    # speaking the JSON-lines protocol (`command`, default python -m endpoint), baresip
    driver: str = "inprocess"  # a registered driver (lab.drivers.registry)
    command: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None, min_length=1
    )
    # a page of one's own implementing the page contract, for a browser driver (`page`,
    # `jssip`), relative to the drill's file
    page: str | None = None
    connections: list[ConnectionSpec] = Field(default_factory=list, max_length=64)
    config: str | None = None  # a SipEndpoint.config / YAML file; servers named by site
    invite_timeout: Seconds = 32
    session_expires: Seconds | None = None  # RFC 4028: a call's session interval
    failover: bool = True
    auto_answer: bool = False

    @field_validator("driver")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in REGISTRY:
            raise ValueError(f"driver {name!r}: not one of {', '.join(REGISTRY)}")
        return name


class PartySpec(Strict):
    name: Name
    kind: Literal["callee"]
    site: str | list[str]
    user: User = "6001"
    calls: int = Field(default=1, ge=1, le=100)
    ring_ms: int = Field(default=0, ge=0, le=600_000)
    # as a phone: refresh every reg_interval, and register again when a site comes back
    # (false: registered once, at the start; a site that loses it keeps it lost)
    reregister: bool = True
    reg_interval: Seconds = 60


class State(Strict):
    """A connection's status, or a session's, at one moment."""

    connection: int | None = Field(default=None, ge=0)
    session: str | None = None
    status: str

    @model_validator(mode="after")
    def _one_thing(self) -> State:
        if (self.connection is None) == (self.session is None):
            raise ValueError("a state names a connection or a session (one of them)")
        kinds = ConnectionStatus if self.session is None else SessionStatus
        if self.status not in {str(k) for k in kinds}:
            raise ValueError(f"status {self.status!r} is not one of {', '.join(kinds)}")
        return self

    def describe(self) -> str:
        who = (f"connection {self.connection}" if self.connection is not None
               else f"session {self.session}")  # fmt: skip
        return f"{who} is {self.status}"


class StateMatch(Strict):
    """``expect: {state: {connection: 0, status: Available}}``: true when the step runs,
    or (with ``within``) at some moment of the window."""

    state: State

    def describe(self) -> str:
        return self.state.describe()


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

    @model_validator(mode="after")
    def _known_fields(self) -> EventMatch:
        allowed = MATCH_FIELDS[self.event]
        for key, value in self.fields.items():
            if key not in allowed:
                raise ValueError(
                    f"{self.event} has no field {key!r}; its fields: {', '.join(allowed)}"
                )
            values = allowed[key]
            if values is not None and value is not None and str(value) not in values:
                raise ValueError(
                    f"{self.event}.{key} is never {value!r}; it is one of {', '.join(values)}"
                )
        return self

    @property
    def fields(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def describe(self) -> str:
        return " ".join([self.event, *(f"{k}={v}" for k, v in self.fields.items())])


_CONN = tuple(ConnectionStatus)
_SESSION = tuple(SessionStatus)
_FAULT: dict[str, tuple[str, ...] | None] = {
    "id": None, "kind": tuple(FaultKind), "site": None, "via": tuple(Layer), "params": None,
    "requested_at": None, "applied_at": None, "healed_at": None,
}  # fmt: skip
# the fields a drill may match per event, and the values a field can have (None: any)
MATCH_FIELDS: dict[str, dict[str, tuple[str, ...] | None]] = {
    "ConnectionStatusChanged": {
        "connection": None, "status": _CONN, "previous": _CONN, "reason": None, "code": None,
    },
    "SessionStatusChanged": {
        "session": None, "connection": None, "connection_id": None, "status": _SESSION,
        "previous": _SESSION, "direction": ("inbound", "outbound"), "remote": None,
        "reason": None, "code": None,
    },
    "fault_applied": _FAULT,
    "fault_healed": _FAULT,
    "site_up": {"site": None},
    "site_down": {"site": None},
    "sip": {
        "dir": ("in", "out"), "connection": None, "transport": ("udp", "tcp", "tls", "ws", "wss"),
        "cseq": None, "call_id": None, "method": None, "status": None, "site": None,
    },
}  # fmt: skip


class FaultSpec(BaseModel):
    model_config = ConfigDict(extra="allow")  # the fault's own parameters
    kind: FaultKind
    site: str
    via: Literal["process", "proxy", "kernel", "network"] | None = None
    duration: Duration | None = None  # heal by itself after that long

    @model_validator(mode="after")
    def _known_params(self) -> FaultSpec:
        problems = param_problems(self.kind, self.params)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class DialSpec(Strict):
    connection: int
    destination: User
    as_: str | None = Field(default=None, alias="as")


class CallSpec(Strict):
    site: str
    to: User = "5001"
    as_: str | None = Field(default=None, alias="as")
    auto_answer: bool = False
    hold_ms: int = Field(default=1000, ge=0)
    transport: Literal["udp", "tcp"] = "udp"


def _a_nemesis_fault(kind: FaultKind) -> FaultKind:
    if kind not in NEMESIS:
        raise ValueError(f"a nemesis draws from {', '.join(NEMESIS)}, not {kind}")
    return kind


NemesisFault = Annotated[FaultKind, AfterValidator(_a_nemesis_fault)]


def _default_nemesis_faults() -> list[FaultKind]:
    return [FaultKind.KILL, FaultKind.HANG, FaultKind.PARTITION]


class NemesisSpec(Strict):
    seed: int = 0
    duration: Duration
    interval: Duration = "5s"
    faults: list[NemesisFault] = Field(default_factory=_default_nemesis_faults, min_length=1)
    sites: list[str] | None = Field(default=None, min_length=1)


class AddConnectionSpec(ConnectionSpec):
    id: int


class Invariant(Strict):
    never: EventMatch | None = None
    check: Literal["no_dial_on_unavailable", "one_event_per_change", "flow_recovery"] | None = None
    references: list[Reference] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _one(self) -> Invariant:
        if (self.never is None) == (self.check is None):
            raise ValueError("an invariant is either 'never: {event …}' or 'check: NAME'")
        return self
