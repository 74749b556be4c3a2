"""The scenario format's building blocks (see docs/scenarios.md). Models are strict:
unknown fields are errors, so a typo never silently does nothing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lab.faults.kinds import FaultKind

CONNECTION_FIELDS = (
    "reg_interval",
    "retry_interval",
    "transaction_timeout",
    "keepalive_interval",
    "keepalive_timeout",
)
ENDPOINT_FIELDS = ("invite_timeout",)
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
    kind: FaultKind
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


class Invariant(Strict):
    never: EventMatch | None = None
    check: Literal["no_dial_on_unavailable", "one_event_per_change"] | None = None

    @model_validator(mode="after")
    def _one(self) -> Invariant:
        if (self.never is None) == (self.check is None):
            raise ValueError("an invariant is either 'never: {event …}' or 'check: NAME'")
        return self
