"""The endpoint's word against the wire: always-on invariants that hold what an endpoint
says (its status events) to what the wire shows it did (the SIP it sent and received, from
its own tap or the fault proxy's record). A black box may say ``Available`` without any
site having accepted a REGISTER, or ``Unavailable`` (408) while its site answers every
request; a verdict that believed it would be wrong.

- ``Available`` only after a 2xx to a REGISTER of that connection, since its last failure
  (or since it was disabled or removed);
- ``Unavailable`` with code 408 only after a request of that connection went unanswered on
  the wire for at least half of its transaction's time (REGISTER: ``transaction_timeout``;
  OPTIONS: ``keepalive_timeout``);
- a session ``Established`` only after a 2xx to an INVITE in its direction;
- a session moving to another connection (a failover) only with an INVITE sent on it.

A connection whose messages the lab cannot read (TLS through the proxy, for an endpoint
without a tap of its own; CRLF keep-alives for the 408 rule) is not judged by the rules
that would need them. Each contradiction is a failed expectation that shows both sides:
the event, and what the wire showed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from endpoint.config import SECURE, ConnectionConfig
from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from lab.stream.events import EndpointEvent, Event, SipObserved
from lab.stream.results import Expectation

SKEW = 0.05  # s: the event and the wire come on two channels, each stamped on its own
_BRANCH = re.compile(r"^(?:Via|v)\s*:[^\r\n]*?;\s*branch\s*=\s*([^;,\s]+)", re.I | re.M)

Key = tuple[str | None, str | None, str | None]  # a transaction: Call-ID, CSeq, top branch


@dataclass(frozen=True)
class Wire:
    """The SIP one connection's messages showed, in order."""

    t: float
    dir: str
    method: str | None  # the CSeq's method
    status: int | None
    key: Key


def _wire(events: Sequence[Event]) -> dict[int, list[Wire]]:
    """Per connection, what the endpoint sent (whatever the proxy then did with it) and
    what reached it (not what the proxy's faults dropped, nor what did not parse)."""
    out: dict[int, list[Wire]] = {}
    for e in events:
        if not isinstance(e, SipObserved) or e.connection is None or e.malformed:
            continue
        if e.dir == "in" and e.dropped:
            continue
        method = e.cseq.split()[-1] if e.cseq else e.method
        branch = _BRANCH.search(e.text or "")
        key = (e.call_id, e.cseq, branch.group(1) if branch else None)
        out.setdefault(e.connection, []).append(Wire(e.t, e.dir, method, e.status, key))
    for wires in out.values():
        wires.sort(key=lambda w: w.t)
    return out


def _said(e: Event, what: str) -> str:
    return f"{what} at {e.t:.3f}s"


def wire_checks(
    events: Sequence[Event], conns: dict[int, ConnectionConfig], *, tap: bool
) -> list[Expectation]:
    """Every contradiction between the endpoint's events and the wire (each a failed
    expectation), or one passed expectation per rule that had something to judge."""
    wire = _wire(events)
    visible = {c for c, cfg in conns.items() if tap or cfg.protocol not in SECURE}
    checks = [
        _available(events, wire, visible),
        _timeouts(events, wire, visible, conns),
        _established(events, wire, visible),
        _failovers(events, wire, visible),
    ]
    return [exp for found in checks for exp in found]


def _verdict(rule: str, judged: int, bad: Sequence[tuple[Event, str]]) -> list[Expectation]:
    if bad:
        return [Expectation(None, 0, f"the wire agrees: {rule}", False, why, e.t)
                for e, why in bad]  # fmt: skip
    if not judged:
        return []
    return [Expectation(None, 0, f"the wire agrees: {rule}", True,
                        f"{judged} event(s), each borne out by the wire", 0.0)]  # fmt: skip


def _available(
    events: Sequence[Event], wire: dict[int, list[Wire]], visible: set[int]
) -> list[Expectation]:
    rule = "Available only after a 2xx to that connection's REGISTER since its last failure"
    since: dict[int, float] = {}
    bad, judged = [], 0
    for e in events:
        if not isinstance(e, EndpointEvent) or not isinstance(e.event, ConnectionStatusChanged):
            continue
        ev = e.event
        if ev.status in ("Unavailable", "Disabled", "Removed"):
            since[ev.connection] = e.t  # (a registration from before does not count after)
        if ev.status != "Available" or ev.connection not in visible:
            continue
        judged += 1
        start = since.get(ev.connection, float("-inf"))
        seen = [w for w in wire.get(ev.connection, []) if w.dir == "in" and w.method == "REGISTER"
                and w.status is not None and start - SKEW <= w.t <= e.t + SKEW]  # fmt: skip
        if not any(200 <= (w.status or 0) < 300 for w in seen):
            after = f"since its failure at {start:.3f}s" if start > float("-inf") else "at all"
            answers = ", ".join(f"{w.status} at {w.t:.3f}s" for w in seen[-3:]) or "none"
            bad.append((e, f"{_said(e, f'connection {ev.connection} said Available')}; the "
                           f"wire shows no 2xx to its REGISTER {after} (its answers: {answers})"))
    return _verdict(rule, judged, bad)


def _timeouts(
    events: Sequence[Event], wire: dict[int, list[Wire]], visible: set[int],
    conns: dict[int, ConnectionConfig],
) -> list[Expectation]:  # fmt: skip
    rule = "Unavailable (408) only after a request went unanswered for its transaction's time"
    bad, judged = [], 0
    for e in events:
        if not isinstance(e, EndpointEvent) or not isinstance(e.event, ConnectionStatusChanged):
            continue
        ev, cfg = e.event, conns.get(e.event.connection)
        if ev.status != "Unavailable" or ev.code != 408 or cfg is None:
            continue
        if ev.connection not in visible or cfg.keepalive == "crlf":
            continue  # (CRLF pings are not SIP: their silence is not on the record)
        judged += 1
        pending: dict[Key, Wire] = {}  # requests sent and not answered yet, by when first
        sent: list[tuple[Wire, bool]] = []
        for w in wire.get(ev.connection, []):
            if w.t > e.t:
                break
            if w.dir == "out" and w.status is None:
                pending.setdefault(w.key, w)
            # an answer that came as the endpoint gave up (within the two channels' skew)
            # may have reached it after its timer fired: not held against it
            elif w.dir == "in" and w.status is not None and w.key in pending and w.t < e.t - SKEW:
                sent.append((pending.pop(w.key), True))
        sent += [(w, False) for w in pending.values()]
        waits = [
            w for w in pending.values()
            if e.t - w.t >= 0.5 * (cfg.keepalive_timeout if w.method == "OPTIONS"
                                   and cfg.keepalive else cfg.transaction_timeout)
        ]  # fmt: skip
        if not waits:
            last = ", ".join(
                f"{w.method} at {w.t:.3f}s ({'answered' if answered else 'unanswered'})"
                for w, answered in sorted(sent, key=lambda x: x[0].t)[-3:]
            ) or "no request"
            bad.append((e, f"{_said(e, f'connection {ev.connection} said Unavailable (408)')}; "
                           f"the wire shows no request of it unanswered for its transaction's "
                           f"time ({last})"))
    return _verdict(rule, judged, bad)


def _sessions(events: Sequence[Event]) -> list[tuple[Event, SessionStatusChanged]]:
    return [
        (e, e.event)
        for e in events
        if isinstance(e, EndpointEvent) and isinstance(e.event, SessionStatusChanged)
    ]


def _established(
    events: Sequence[Event], wire: dict[int, list[Wire]], visible: set[int]
) -> list[Expectation]:
    rule = "a session Established only after a 2xx to its INVITE"
    began: dict[str, float] = {}
    bad, judged = [], 0
    for e, ev in _sessions(events):
        began.setdefault(ev.session, e.t)
        if ev.status != "Established" or ev.connection not in visible:
            continue
        judged += 1
        way = "in" if ev.direction == "outbound" else "out"
        ok = [w for ws in wire.values() for w in ws if w.dir == way and w.method == "INVITE"
              and w.status is not None and 200 <= w.status < 300
              and began[ev.session] - SKEW <= w.t <= e.t + SKEW]  # fmt: skip
        if not ok:
            bad.append((e, f"{_said(e, f'session {ev.session} said Established')}; the wire "
                           f"shows no 2xx to an INVITE {'from' if way == 'in' else 'to'} a site "
                           f"since it began at {began[ev.session]:.3f}s"))
    return _verdict(rule, judged, bad)


def _failovers(
    events: Sequence[Event], wire: dict[int, list[Wire]], visible: set[int]
) -> list[Expectation]:
    rule = "a failover only with an INVITE through the other site"
    last: dict[str, tuple[int, float]] = {}
    bad, judged = [], 0
    for e, ev in _sessions(events):
        before = last.get(ev.session)
        last[ev.session] = (ev.connection, e.t)
        if before is None or before[0] == ev.connection or ev.connection not in visible:
            continue
        if ev.status == "Disconnected":
            continue  # an end said on another connection is no call placed there
        judged += 1
        sent = [w for w in wire.get(ev.connection, []) if w.dir == "out" and w.status is None
                and w.method == "INVITE" and before[1] - SKEW <= w.t <= e.t + SKEW]  # fmt: skip
        if not sent:
            moved = f"session {ev.session} moved to connection {ev.connection}"
            bad.append((e, f"{_said(e, moved)} (from {before[0]}); the wire shows no INVITE "
                           f"sent on it since {before[1]:.3f}s"))
    return _verdict(rule, judged, bad)
