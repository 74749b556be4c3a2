"""Matching events against expectations, and invariants over a whole run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from lab.run.backoff import flow_recovery
from lab.scenario.models import EventMatch, Invariant
from lab.stream.events import EndpointEvent, Event
from lab.stream.results import Expectation


def matches(event: Event, match: EventMatch, sessions: dict[str, str]) -> bool:
    if event.label != match.event:
        return False
    data = event.fields()
    for key, wanted in match.fields.items():
        have = data.get(key)
        want = (
            sessions.get(wanted, wanted) if key == "session" and isinstance(wanted, str) else wanted
        )
        if key == "reason" and isinstance(want, str) and isinstance(have, str):
            if want not in have:
                return False
            continue
        if key == "cseq" and isinstance(want, str) and want.isalpha():  # a method: any number
            if not isinstance(have, str) or have.split()[-1:] != [want]:
                return False
            continue
        if have != want and str(have) != str(want):
            return False
    return True


def describe(event: Event) -> str:
    fields = " ".join(f"{k}={v}" for k, v in event.fields().items() if v is not None)
    return f"{event.label} {fields} at {event.t:.3f}s"


def _phone_events(events: Sequence[Event]) -> list[tuple[Event, Any]]:
    return [(e, e.event) for e in events if isinstance(e, EndpointEvent)]


def check_invariant(
    inv: Invariant, events: Sequence[Event], sessions: dict[str, str], line: int,
    conns: dict[int, ConnectionConfig] | None = None,
) -> Expectation:  # fmt: skip
    end = events[-1].t if events else 0.0
    if inv.check == "flow_recovery":
        return flow_recovery(events, conns or {}, line)
    if inv.never is not None:
        bad = [e for e in events if matches(e, inv.never, sessions)]
        return Expectation(
            None,
            line,
            f"never: {inv.never.describe()}",
            not bad,
            describe(bad[0]) if bad else "never happened",
            bad[0].t if bad else end,
        )
    if inv.check == "no_dial_on_unavailable":
        what = "no dial goes out on a connection known Unavailable"
        status: dict[int, str] = {}
        for e, phone in _phone_events(events):
            if isinstance(phone, ConnectionStatusChanged):
                status[phone.connection] = phone.status
            elif (
                isinstance(phone, SessionStatusChanged)
                and phone.status == "Dialing"
                and status.get(phone.connection) == "Unavailable"
            ):
                return Expectation(None, line, what, False, describe(e), e.t)
        return Expectation(
            None, line, what, True, "every dial went out on a connection not known Unavailable", end
        )
    last: dict[int, str | None] = {}
    for e, phone in _phone_events(events):
        if not isinstance(phone, ConnectionStatusChanged):
            continue
        conn, previous = phone.connection, phone.previous
        if phone.status == previous or previous != last.get(conn):
            return Expectation(
                None,
                line,
                "exactly one event per status change",
                False,
                f"{describe(e)} after last status {last.get(conn)}",
                e.t,
            )
        last[conn] = None if phone.status == "Removed" else phone.status
    return Expectation(
        None, line, "exactly one event per status change", True, "every event is one change", end
    )
