"""Matching events against expectations, and invariants over a whole run."""

from __future__ import annotations

from typing import Any

from lab.run.events import Expectation, RunEvent
from lab.scenario.schema import EventMatch, Invariant


def event_name(event: RunEvent) -> str | None:
    if event.kind in ("endpoint", "lab", "sip"):
        return str(event.data.get("event"))
    return None


def matches(event: RunEvent, match: EventMatch, sessions: dict[str, str]) -> bool:
    if event_name(event) != match.event:
        return False
    data = event.data
    for key, wanted in match.fields.items():
        have = data.get(key)
        want = (
            sessions.get(wanted, wanted) if key == "session" and isinstance(wanted, str) else wanted
        )
        if key == "reason" and isinstance(want, str) and isinstance(have, str):
            if want not in have:
                return False
            continue
        if have != want and str(have) != str(want):
            return False
    return True


def describe(event: RunEvent) -> str:
    data = {k: v for k, v in event.data.items() if k not in ("event", "t")}
    fields = " ".join(f"{k}={v}" for k, v in data.items() if v is not None)
    return f"{event_name(event)} {fields} at {event.t:.3f}s"


def check_invariant(
    inv: Invariant, events: list[RunEvent], sessions: dict[str, str], line: int
) -> Expectation:
    end = events[-1].t if events else 0.0
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
        status: dict[Any, str] = {}
        for e in events:
            if event_name(e) == "ConnectionStatusChanged":
                status[e.data["connection"]] = e.data["status"]
            elif (
                event_name(e) == "SessionStatusChanged"
                and e.data.get("status") == "Dialing"
                and status.get(e.data["connection"]) == "Unavailable"
            ):
                return Expectation(
                    None,
                    line,
                    "no dial goes out on a connection known Unavailable",
                    False,
                    describe(e),
                    e.t,
                )
        return Expectation(
            None,
            line,
            "no dial goes out on a connection known Unavailable",
            True,
            "every dial went out on a connection not known Unavailable",
            end,
        )
    last: dict[Any, str | None] = {}
    for e in events:
        if event_name(e) != "ConnectionStatusChanged":
            continue
        conn = e.data["connection"]
        previous = e.data.get("previous")
        if e.data["status"] == previous or previous != last.get(conn):
            return Expectation(
                None,
                line,
                "exactly one event per status change",
                False,
                f"{describe(e)} after last status {last.get(conn)}",
                e.t,
            )
        last[conn] = None if e.data["status"] == "Removed" else e.data["status"]
    return Expectation(
        None, line, "exactly one event per status change", True, "every event is one change", end
    )
