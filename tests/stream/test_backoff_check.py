"""RFC 5626 §4.5's flow recovery graded on streams with known answers: waits within the
envelope and spread pass; a wait outside it, or every wait at one point of it, fails."""

from __future__ import annotations

import random

from endpoint.config import ConnectionConfig
from lab.run.backoff import SPREAD_FROM, flow_recovery
from lab.stream.events import Event, SipObserved

SETTINGS = {"retry_backoff": "rfc5626", "backoff_base_one_ok": 1.0,
            "backoff_base_all_failed": 0.5, "backoff_max": 4.0}  # fmt: skip
CONNS = {0: ConnectionConfig(id=0, user="5001", server="127.0.0.1", **SETTINGS),  # type: ignore[arg-type]
         1: ConnectionConfig(id=1, user="5002", server="127.0.0.2", **SETTINGS)}  # type: ignore[arg-type]


def register(t: float, conn: int, cseq: int, status: int) -> list[Event]:
    c = f"{cseq} REGISTER"
    return [SipObserved(t=t, dir="out", connection=conn, transport="udp", cseq=c,
                        call_id=f"c{conn}", method="REGISTER"),
            SipObserved(t=t + 0.01, dir="in", connection=conn, transport="udp", cseq=c,
                        call_id=f"c{conn}", status=status)]  # fmt: skip


def stream(fractions: list[float], *, other_works: bool = True) -> list[Event]:
    """Connection 0 refused len(fractions) times in a row, each wait that fraction of its
    ceiling; connection 1 registered (or refused) before it all."""
    events = register(0.0, 1, 1, 200 if other_works else 503)
    base = 1.0 if other_works else 0.5
    t, cseq = 1.0, 1
    events += register(t, 0, cseq, 503)
    for n, f in enumerate(fractions, start=1):
        t += 0.01 + f * min(4.0, base * 2**n)
        cseq += 1
        events += register(t, 0, cseq, 503)
    return sorted(events, key=lambda e: e.t)


def test_waits_within_the_envelope_and_spread_pass() -> None:
    rng = random.Random(3)
    verdict = flow_recovery(stream([rng.uniform(0.5, 1.0) for _ in range(12)]), CONNS, 7)
    assert verdict.passed, verdict.observed
    assert verdict.line == 7 and "12 retries within their envelope" in verdict.observed


def test_the_base_is_the_shorter_one_when_every_connection_has_failed() -> None:
    fractions = [0.6, 0.9, 0.7]
    assert flow_recovery(stream(fractions, other_works=False), CONNS, 1).passed
    # the same waits, with the other connection working, are too short for its base
    shorter = stream([f / 2 for f in fractions], other_works=True)
    verdict = flow_recovery(shorter, CONNS, 1)
    assert not verdict.passed and "failure 1 in a row" in verdict.observed


def test_a_wait_past_its_ceiling_fails_naming_the_failure() -> None:
    verdict = flow_recovery(stream([0.7, 0.8, 1.5]), CONNS, 1)
    assert not verdict.passed
    assert "failure 3 in a row" in verdict.observed and "2.000-4.000s" in verdict.observed


def test_every_wait_at_one_point_is_lockstep() -> None:
    verdict = flow_recovery(stream([1.0] * SPREAD_FROM), CONNS, 1)
    assert not verdict.passed and "in lockstep" in verdict.observed
    few = flow_recovery(stream([1.0] * (SPREAD_FROM - 1)), CONNS, 1)
    assert few.passed  # too few to tell


def test_nothing_to_judge_fails() -> None:
    verdict = flow_recovery(register(0.0, 0, 1, 200), CONNS, 1)
    assert not verdict.passed and "no retry" in verdict.observed
