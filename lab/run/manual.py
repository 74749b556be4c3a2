"""A manual drill's session (``geolab up --record`` … ``geolab down``) as one drill's
events, so that it ends in the same report folder an automated drill writes: the lab's
events (sites, faults and heals from the journal), the SIP the fault proxies relayed, and
each connection's status as the wire shows it — the endpoint under test says nothing to
the lab here. Connections are told apart by the AoR user of their REGISTERs and the site
they went to; a connection is Available once a REGISTER of it is answered 2xx, and
Unavailable when one is answered with a failure (its code) or never answered (408): failed
when the endpoint sent its next REGISTER, or 32 s (64·T1) after it went out if none came.
Each such event's reason says it was seen on the wire."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatusChanged
from endpoint.core.status import ConnectionStatus as C
from endpoint.sip.errors import ParseError
from endpoint.sip.message import Request
from endpoint.sip.parser import parse_message
from lab.drivers.control import observed_on_wire
from lab.faults.watch import WireObservation, observation
from lab.run.backoff import RESENT, attempts_of
from lab.run.checks import check_invariant
from lab.run.wirechecks import _wire
from lab.scenario.models import Invariant
from lab.stream.events import (
    ConnectionPlaced,
    EndpointEvent,
    Event,
    RunFinished,
    RunStarted,
    SipObserved,
    from_json,
)

TIMEOUT = 32.0  # s: RFC 3261's 64·T1, a REGISTER's transaction time by default


@dataclass(frozen=True)
class Session:
    events: list[Event]
    wire: list[WireObservation]  # (for the pcap)
    connections: dict[int, ConnectionConfig]  # as told apart on the wire, by id

    def graded(self, invariants: list[Invariant], lines: list[int]) -> list[Event]:
        """The session's events with each invariant's verdict (``geolab down --expect``):
        the run passes when every one holds."""
        *events, finish = self.events
        verdicts = [check_invariant(inv, events, {}, line, self.connections)
                    for inv, line in zip(invariants, lines, strict=True)]  # fmt: skip
        checked = [dataclasses.replace(v, references=tuple(inv.references)).event(finish.t)
                   for v, inv in zip(verdicts, invariants, strict=True)]  # fmt: skip
        passed = all(v.passed for v in verdicts)
        return [*events, *checked, RunFinished(t=finish.t, passed=passed, duration=finish.t)]


def read_session(path: Path, *, lab_id: str, backend: str) -> Session:
    """The recorded session in ``path`` (``session.jsonl``) as one drill's events."""
    lab_events: list[Event] = []
    wire: list[WireObservation] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if "lab" in entry:
            lab_events.append(from_json(entry["lab"]))
        elif "wire" in entry:
            wire.append(observation(json.dumps(entry["wire"]).encode()))
    t0 = min([e.t for e in lab_events] + [w.t for w in wire], default=0.0)
    conns = _connections(wire)
    events: list[Event] = [e.retimed(e.t - t0) for e in lab_events]
    sip: list[SipObserved] = []
    for seen in wire:
        event = observed_on_wire(seen.t - t0, seen, conns.values())
        if event is not None:
            sip.append(event)
    events += sip
    events += [ConnectionPlaced(t=0.0, connection=c.id, site=site)
               for c, site in ((conns[k], k[2]) for k in conns)]  # fmt: skip
    end = max((e.t for e in events), default=0.0)
    events += _statuses(sip, {c.id for c in conns.values()}, end)
    events.sort(key=lambda e: e.t)
    start = RunStarted(t=0.0, name=f"manual session {lab_id}", source=str(path),
                       backend=backend, seed=0, mode="real", driver="manual")  # fmt: skip
    finish = RunFinished(t=end, passed=True, duration=end)
    return Session([start, *events, finish], wire, {c.id: c for c in conns.values()})


def _connections(wire: list[WireObservation]) -> dict[tuple[str, int, str, str], ConnectionConfig]:
    """One connection per (proxy address, site, user) a REGISTER went out to, in order."""
    found: dict[tuple[str, int, str, str], ConnectionConfig] = {}
    for seen in wire:
        if seen.direction != "out":
            continue
        try:
            message = parse_message(seen.data, stream=seen.protocol == "tcp")
        except ParseError:
            continue
        if not isinstance(message, Request) or message.method != "REGISTER":
            continue
        user = message.to.uri.user if hasattr(message.to.uri, "user") else None
        key = (*seen.listen, seen.site, str(user or ""))
        if key not in found and user:
            found[key] = ConnectionConfig(id=len(found), user=str(user), server=seen.listen[0],
                                          port=seen.listen[1], protocol=seen.protocol
                                          if seen.protocol in ("udp", "tcp", "ws") else "udp")
    return found


def _statuses(sip: list[SipObserved], conns: set[int], end: float) -> list[Event]:
    """Each connection's status as its REGISTERs' answers show it."""
    out: list[Event] = []
    wire = _wire(sip)
    for conn in sorted(conns):
        attempts = attempts_of(wire.get(conn, []))
        changes: list[tuple[float, C, str, int | None]] = []
        for n, a in enumerate(attempts):
            if a.answered is not None and a.status is not None:
                if a.ok:
                    changes.append((a.answered, C.AVAILABLE, "a 2xx to its REGISTER, seen on "
                                    "the wire", a.status))  # fmt: skip
                elif a.status not in RESENT:
                    changes.append((a.answered, C.UNAVAILABLE, f"its REGISTER answered "
                                    f"{a.status}, seen on the wire", a.status))  # fmt: skip
                continue
            # never answered: given up for the next one, or at the transaction's time
            later = attempts[n + 1].sent if n + 1 < len(attempts) else None
            gave_up = min(a.sent + TIMEOUT, later) if later is not None else a.sent + TIMEOUT
            if gave_up <= end:
                changes.append((gave_up, C.UNAVAILABLE, "its REGISTER unanswered, seen on the "
                                "wire", 408))  # fmt: skip
        status: C | None = None
        if attempts:
            out.append(_status(conn, C.REGISTERING, None, "its first REGISTER", None,
                               attempts[0].sent))  # fmt: skip
            status = C.REGISTERING
        for t, now, why, code in sorted(changes, key=lambda c: c[0]):
            if now is not status:
                out.append(_status(conn, now, status, why, code, t))
                status = now
    return out


def _status(conn: int, now: C, before: C | None, why: str, code: int | None,
            t: float) -> EndpointEvent:  # fmt: skip
    return EndpointEvent(t=t, event=ConnectionStatusChanged(conn, now, before, why, code, t))
