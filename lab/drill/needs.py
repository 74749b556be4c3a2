"""What a drill needs of the endpoint under test, against what a driver declares
(:mod:`lab.drivers.capabilities`): a drill that needs what the driver lacks is "not
applicable" to it, with the reasons, and is not run. Never a pass, never a failure."""

from __future__ import annotations

from pathlib import Path

from endpoint.config import SECURE, ConfigError
from endpoint.configfile import load
from lab.drill.schema import Scenario
from lab.drivers.capabilities import CALL_ACTIONS, COMMANDS
from lab.drivers.registry import capabilities_of

# (connection, transport, keep-alive, retry backoff, where): what each connection of the
# drill runs on
Uses = list[tuple[int, str, str | None, str, str]]


def not_applicable(s: Scenario, driver: str) -> list[str]:
    """Why the drill cannot be run with ``driver`` (nothing: it can)."""
    caps = capabilities_of(driver)
    if s.fleet is not None:
        if driver == "inprocess":
            return []
        return [f"a fleet drill storms geolab's own phones in the lab; it does not run "
                f"driver {driver}'s endpoint"]  # fmt: skip
    reasons: list[str] = []
    calls = [str(s.step_lines[i]) for i, step in enumerate(s.steps)
             if step.action in CALL_ACTIONS and i < len(s.step_lines)]  # fmt: skip
    if caps.calls is not None and calls:
        reasons.append(f"it has calls (line {', '.join(calls)}), which cannot be graded with "
                       f"driver {driver} here: {caps.calls}")  # fmt: skip
    if s.endpoint.session_expires is not None and not caps.session_timers:
        reasons.append(f"its calls ask for a session timer (endpoint.session_expires), which "
                       f"driver {driver} cannot ask its endpoint for")  # fmt: skip
    for action in dict.fromkeys(step.action for step in s.steps):
        if action in COMMANDS and action not in caps.commands:
            lines = [str(s.step_lines[i]) for i, step in enumerate(s.steps)
                     if step.action == action and i < len(s.step_lines)]  # fmt: skip
            reasons.append(f"it uses {action} (line {', '.join(lines)}), which driver "
                           f"{driver} cannot give its endpoint")  # fmt: skip
    added = [getattr(step, "add_connection", None) for step in s.steps]
    named = [str(c.id if c.id is not None else i) for i, c in enumerate(s.endpoint.connections)
             if c.name is not None] + [str(a.id) for a in added
                                       if a is not None and a.name is not None]  # fmt: skip
    if named and caps.dns is not None:
        reasons.append(f"connection {', '.join(named)} reaches its site by host name through "
                       f"the lab's DNS: {caps.dns}")  # fmt: skip
    for conn, transport, keepalive, backoff, where in _uses(s):
        if transport not in caps.transports:
            reasons.append(f"connection {conn} ({where}) runs on {transport.upper()}, which "
                           f"driver {driver} does not offer")  # fmt: skip
        if keepalive is not None and keepalive not in caps.keepalives:
            reasons.append(f"connection {conn} ({where}) uses keep-alive {keepalive!r}, which "
                           f"driver {driver} cannot ask its endpoint for")  # fmt: skip
        if backoff not in caps.backoffs:
            reasons.append(f"connection {conn} ({where}) retries with backoff {backoff!r}, which "
                           f"driver {driver} cannot ask its endpoint for")  # fmt: skip
        if transport in SECURE and not caps.wire_tap and _checks_sip(s):
            reasons.append(f"connection {conn} ({where}) runs on {transport.upper()} and the "
                           "drill checks sip "
                           f"events: driver {driver}'s are the fault proxy's record of the "
                           "wire, which cannot read TLS")  # fmt: skip
    return reasons


def transports_of(s: Scenario) -> frozenset[str]:
    """Every transport the drill's connections use (the lab offers TLS, ws and wss only
    to a drill that uses them)."""
    return frozenset(transport for _, transport, *_ in _uses(s))


def _checks_sip(s: Scenario) -> bool:
    matches = [getattr(step, "expect", None) or getattr(step, "wait_for", None)
               for step in s.steps] + [inv.never for inv in s.invariants]  # fmt: skip
    return any(getattr(m, "event", None) == "sip" for m in matches)


def _uses(s: Scenario) -> Uses:
    uses: Uses = []
    transport = s.topology.transport
    for i, c in enumerate(s.endpoint.connections):
        key = f"endpoint.connections[{i}]"
        line = s.lines.get(f"{key}.keepalive", s.lines.get(key, 0))
        uses.append((c.id if c.id is not None else i, c.protocol or transport, c.keepalive,
                     c.retry_backoff or "fixed", f"line {line}"))  # fmt: skip
    for i, step in enumerate(s.steps):
        spec = getattr(step, "add_connection", None)
        if spec is not None:
            line = s.step_lines[i] if i < len(s.step_lines) else 0
            uses.append((spec.id, spec.protocol or transport, spec.keepalive,
                         spec.retry_backoff or "fixed", f"line {line}"))  # fmt: skip
    if s.endpoint.config:
        try:
            config = load(Path(s.source).parent / s.endpoint.config)
        except (ConfigError, OSError):
            return uses  # said when the drill runs
        for conn in config.connections:
            uses.append((conn.id, conn.protocol, conn.keepalive, conn.retry_backoff,
                         s.endpoint.config))  # fmt: skip
    return uses
