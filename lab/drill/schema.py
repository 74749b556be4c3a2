"""The scenario format (see docs/scenarios.md): a drill's sites, endpoint, parties, and
its steps or its fleet; and the checks across fields that no single model can make."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from lab.drivers.registry import capabilities_of
from lab.faults.kinds import FaultKind, unsupported
from lab.scenario.fleetspec import FLEET_BOUNDS, FleetSpec
from lab.scenario.models import (
    CONNECTION_FIELDS,
    Duration,
    EndpointSpec,
    EventMatch,
    Invariant,
    PartySpec,
    Reference,
    Strict,
    Topology,
)
from lab.steps import Step
from lab.steps.base import Checker, Loc


class Scenario(Strict):
    name: str
    description: str = ""
    references: list[Reference] = Field(default_factory=list, max_length=16)  # what it grades
    mode: Literal["real", "sim"] = "real"
    topology: Topology = Field(default_factory=Topology)
    endpoint: EndpointSpec = Field(default_factory=EndpointSpec)
    parties: list[PartySpec] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    fleet: FleetSpec | None = None
    invariants: list[Invariant] = Field(default_factory=list)
    timeout: Duration = "120s"
    _source: str = PrivateAttr(default="")
    _digest: str = PrivateAttr(default="")  # of the file it was read from
    _lines: dict[str, int] = PrivateAttr(default_factory=dict)
    _step_lines: list[int] = PrivateAttr(default_factory=list)
    _file_env: dict[str, float] = PrivateAttr(default_factory=dict)  # from endpoint.config
    _file_connections: list[int] = PrivateAttr(default_factory=list)  # their ids

    @property
    def source(self) -> str:
        return self._source

    @source.setter
    def source(self, value: str) -> None:
        self._source = value

    @property
    def digest(self) -> str:
        """The drill file's SHA-256 (its first 16 hex digits): the same drill, run again,
        carries the same one (``geolab report --history`` tells a flaky verdict by it)."""
        return self._digest

    @digest.setter
    def digest(self, value: str) -> None:
        self._digest = value

    @property
    def lines(self) -> dict[str, int]:
        return self._lines

    @lines.setter
    def lines(self, value: dict[str, int]) -> None:
        self._lines = value

    def use_config_file(self, connections: list[Any], invite_timeout: float) -> None:
        """Bounds may name the settings of an endpoint.config file's connections."""
        env: dict[str, float] = {"invite_timeout": invite_timeout}
        self._file_connections = [int(conn.id) for conn in connections]
        for i, conn in enumerate(connections):
            for name in CONNECTION_FIELDS:
                env[f"conn{conn.id}.{name}"] = float(getattr(conn, name))
                if i == 0:
                    env[name] = float(getattr(conn, name))
        self._file_env = env

    def connection_ids(self) -> list[int]:
        """The endpoint's connections at the start (inline, or the config file's)."""
        inline = [c.id if c.id is not None else i for i, c in enumerate(self.endpoint.connections)]
        return inline or list(self._file_connections)

    @property
    def step_lines(self) -> list[int]:
        return self._step_lines

    @step_lines.setter
    def step_lines(self, value: list[int]) -> None:
        self._step_lines = value

    def env(self) -> dict[str, float]:
        """The names a bound may use: connection 0's settings, ``connN.<setting>``, and the
        endpoint's ``invite_timeout`` and ``session_expires`` (when set)."""
        env: dict[str, float] = {"invite_timeout": self.endpoint.invite_timeout, **self._file_env}
        if self.endpoint.session_expires is not None:
            env["session_expires"] = self.endpoint.session_expires
        if self.fleet is not None:
            for name in CONNECTION_FIELDS:
                env[name] = float(getattr(self.fleet, name))
        for i, conn in enumerate(self.endpoint.connections):
            cid = conn.id if conn.id is not None else i
            for name in CONNECTION_FIELDS:
                env[f"conn{cid}.{name}"] = float(getattr(conn, name))
                if i == 0:
                    env[name] = float(getattr(conn, name))
        return env


def semantic_errors(
    s: Scenario,
    *,
    mode: str | None = None,
    backend: str | None = None,
    driver: str | None = None,
    session: bool = False,
) -> list[tuple[Loc, str]]:
    """Checks across fields: sites, sessions, step ids and names in bounds all exist, and
    every fault is one that the lab of ``mode`` and ``backend`` (default: the drill's own)
    can apply. ``session``: the file grades a recorded manual session (``geolab down
    --expect``): invariants, and no steps (the session's were done by hand)."""
    c = Checker(
        sites=list(s.topology.sites), env=s.env(), mode=mode or s.mode,
        backend=backend or s.topology.backend, proxy=s.topology.proxy,
        connections=set(s.connection_ids()),
    )  # fmt: skip
    c.known_connections |= c.connections
    if len(set(c.sites)) != len(c.sites):
        c.error(("topology", "sites"), "site names repeat")
    chosen = driver or s.endpoint.driver
    if s.fleet is None and c.mode not in capabilities_of(chosen).modes:
        c.error(("endpoint", "driver"),
                f"driver {chosen!r} runs on real sites only, not in mode {c.mode}")  # fmt: skip
    if not capabilities_of(chosen).wire_tap and not s.topology.proxy:
        # a black box's SIP is what the fault proxy sees: without it there is none
        for where, match in _matches(s):
            if match.event == "sip":
                c.error(where, f"sip events of driver {chosen!r} come from the fault proxy's "
                             "record of the wire, and this drill has none (topology.proxy "
                             "is false)")  # fmt: skip
    c.bound(s.timeout, ("timeout",))
    for name in s.topology.certificates:
        c.site(name, ("topology", "certificates", name))
    if c.backend == "external" and s.topology.certificates:
        c.error(("topology", "certificates"), "an external site's certificate is its own")
    _dns_errors(s, c)
    for i, conn in enumerate(s.endpoint.connections):
        c.site(conn.site, ("endpoint", "connections", i, "site"))
        if conn.sips and (conn.protocol or s.topology.transport) != "tls":  # (not wss either)
            c.error(("endpoint", "connections", i, "sips"), "sips: URIs are for TLS only")
    for i, party in enumerate(s.parties):
        for name in [party.site] if isinstance(party.site, str) else party.site:
            c.site(name, ("parties", i, "site"))
    if session:
        if s.steps:
            c.error(("steps",), "a file that grades a recorded session has no steps (they "
                    "were done by hand): only invariants")  # fmt: skip
        if not s.invariants:
            c.error(("invariants",), "a file that grades a recorded session needs invariants")
    elif s.fleet is None and not s.steps:
        c.error(("steps",), "a scenario needs steps (one endpoint) or a fleet (a storm)")
    if s.fleet is not None:
        _fleet_errors(s, s.fleet, c)
    for i, step in enumerate(s.steps):
        loc: Loc = ("steps", i)
        for key in ("after", "before"):
            ref = getattr(step, key, None)
            if ref is not None and ref not in c.ids:
                c.error((*loc, key), f"no earlier step with id {ref!r}")
        if step.id is not None:
            if step.id in c.ids:
                c.error((*loc, "id"), f"step id {step.id!r} is used twice")
            c.ids.add(step.id)
        step.check(c, loc)
    for i, inv in enumerate(s.invariants):
        if inv.never is not None:
            c.match(inv.never, ("invariants", i, "never"))
    if s.fleet is None and len(set(s.connection_ids())) != len(s.connection_ids()):
        c.error(("endpoint", "connections"), "connection ids repeat")
    return c.errors


def _dns_errors(s: Scenario, c: Checker) -> None:
    """The dns: section names known sites, and a connection's name is one of its names."""
    dns = s.topology.dns
    c.dns = dns is not None
    for name, entry in (dns.names if dns is not None else {}).items():
        for j, target in enumerate(entry.targets):
            c.site(target.site, ("topology", "dns", "names", name, "targets", j, "site"))
    for i, conn in enumerate(s.endpoint.connections):
        if conn.name is None:
            continue
        if dns is None:
            c.error(("endpoint", "connections", i, "name"),
                    "a connection named by host name needs the topology's dns: section")
        elif conn.name.rstrip(".") not in {n.rstrip(".") for n in dns.names}:
            c.error(("endpoint", "connections", i, "name"),
                    f"{conn.name!r} is none of the dns: section's names "
                    f"({', '.join(dns.names)})")  # fmt: skip


def _matches(s: Scenario) -> list[tuple[Loc, EventMatch]]:
    """Every event a drill waits for, expects or rules out, with where it is written."""
    found: list[tuple[Loc, EventMatch]] = []
    for i, step in enumerate(s.steps):
        match = getattr(step, "expect", None) or getattr(step, "wait_for", None)
        if isinstance(match, EventMatch):
            found.append((("steps", i, step.action, "event"), match))
    for i, inv in enumerate(s.invariants):
        if inv.never is not None:
            found.append((("invariants", i, "never", "event"), inv.never))
    return found


def _fleet_errors(s: Scenario, fleet: FleetSpec, c: Checker) -> None:
    for key in ("steps", "endpoint", "parties", "invariants"):
        if key in s.model_fields_set:
            c.error((key,), f"a fleet scenario has no {key}: the fleet is the drill")
    if len(set(c.sites)) < 2:
        c.error(("topology", "sites"), "a fleet needs two sites or more")
    c.site(fleet.outage.site, ("fleet", "outage", "site"))
    why = unsupported(FaultKind(fleet.outage.kind), None, mode=c.mode, backend=c.backend,
                      proxy=c.proxy)  # fmt: skip
    if why is not None:
        c.error(("fleet", "outage", "kind"), why)
    c.bound(fleet.outage.at, ("fleet", "outage", "at"))
    c.bound(fleet.outage.for_, ("fleet", "outage", "for"))
    for key in ("boot", "settle", "duration"):
        if getattr(fleet, key) is not None:
            c.bound(getattr(fleet, key), ("fleet", key))
    for key in FLEET_BOUNDS:
        value = getattr(fleet.expect, f"{key}_within")
        if value is not None:
            c.bound(value, ("fleet", "expect", f"{key}_within"))
    for name in fleet.expect.peak_register_per_s_at_most:
        c.site(name, ("fleet", "expect", "peak_register_per_s_at_most", name))
