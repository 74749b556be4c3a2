"""RFC 5626 §4.5's flow recovery, graded on the wire (``check: flow_recovery``): for each
connection set to ``retry_backoff: rfc5626``, each REGISTER that follows a failed one
(the n-th failure in a row) goes out between 50 and 100 % of min(max-time,
base-time · 2^n) after the failure was known, base-time by whether another connection of
the endpoint worked then (its last REGISTER before that answered 2xx); and, across all the
waits judged, they spread over that range rather than all falling at one point of it (a
fleet retrying in lockstep after a site's outage is what the randomisation prevents).

What the wire cannot date is not judged: a failure with no answer on the record (a
timeout, a refused connection) counts towards n, but the wait after it is not measured."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from endpoint.config import ConnectionConfig
from lab.run.wirechecks import Wire, _wire
from lab.stream.events import Event
from lab.stream.results import Expectation

SLACK = 0.2  # s: timers, scheduling, and the wire's own stamps
AMBIGUOUS = 0.25  # s: another connection's state changed this near a failure: either base
SPREAD = 0.05  # the waits' fractions of their ceilings span at least this much …
SPREAD_FROM = 10  # … when at least this many were judged
RESENT = (401, 407, 423)  # answers a REGISTER is sent again at once for, not retried


@dataclass(frozen=True)
class Attempt:
    """One REGISTER transaction: when it first went out, and its final answer if seen."""

    sent: float
    answered: float | None
    status: int | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def attempts_of(wires: list[Wire]) -> list[Attempt]:
    """One connection's REGISTER transactions on the wire, in the order they went out."""
    first: dict[object, float] = {}
    answer: dict[object, tuple[float, int]] = {}
    for w in wires:
        if w.method != "REGISTER":
            continue
        if w.dir == "out" and w.status is None:
            first.setdefault(w.key, w.t)
        elif w.dir == "in" and w.status is not None and w.status >= 200:
            answer.setdefault(w.key, (w.t, w.status))
    out = [Attempt(t, *(answer.get(k) or (None, None))) for k, t in first.items()]
    return sorted(out, key=lambda a: a.sent)


def _works(attempts: list[Attempt], t: float, timeout: float) -> bool | None:
    """Whether a connection worked at ``t``: its last REGISTER ended in a 2xx (one never
    answered ended in failure at its transaction's time). None: it may have changed too
    near ``t`` to say."""
    ends = [(a.answered, a.ok) if a.answered is not None else (a.sent + timeout, False)
            for a in attempts]  # fmt: skip
    state = False
    for when, ok in sorted(ends):
        if when <= t - AMBIGUOUS:
            state = ok
        elif when < t + AMBIGUOUS and ok != state:
            return None
    return state


def flow_recovery(
    events: Sequence[Event], conns: dict[int, ConnectionConfig], line: int
) -> Expectation:
    what = "RFC 5626 §4.5: each retry 50-100 % of min(max-time, base-time·2^n), spread"
    wire = _wire(events)
    attempts = {c: attempts_of(wire.get(c, [])) for c in conns}
    fractions: list[float] = []
    end = events[-1].t if events else 0.0
    for cid, cfg in sorted(conns.items()):
        if cfg.retry_backoff != "rfc5626":
            continue
        mine, failures = attempts[cid], 0
        for a, b in itertools.pairwise(mine):
            if a.ok:
                failures = 0
                continue
            if a.status in RESENT:
                continue
            failures += 1
            if a.answered is None:
                continue  # (its failure is not dated on the wire)
            others = [_works(attempts[o], a.answered, conns[o].transaction_timeout)
                      for o in attempts if o != cid]  # fmt: skip
            if any(w is None for w in others):
                bases = {cfg.backoff_base_one_ok, cfg.backoff_base_all_failed}
            else:
                bases = {cfg.backoff_base_one_ok if any(others) else cfg.backoff_base_all_failed}
            wait = b.sent - a.answered
            ceilings = [min(cfg.backoff_max, base * 2.0 ** min(failures, 64)) for base in bases]
            fits = [c for c in ceilings if 0.5 * c - SLACK <= wait <= c + SLACK]
            if not fits:
                span = " or ".join(f"{0.5 * c:.3f}-{c:.3f}s" for c in sorted(ceilings))
                return Expectation(
                    None, line, what, False,
                    f"connection {cid}: failure {failures} in a row ({a.status} at "
                    f"{a.answered:.3f}s), next REGISTER after {wait:.3f}s, not {span}", b.sent,
                )  # fmt: skip
            if len(ceilings) == 1:
                fractions.append(wait / ceilings[0])
    if not fractions:
        return Expectation(None, line, what, False, "no retry after a dated failure to judge", end)
    spread = max(fractions) - min(fractions)
    if len(fractions) >= SPREAD_FROM and spread < SPREAD:
        return Expectation(
            None, line, what, False,
            f"{len(fractions)} retries all at {min(fractions):.0%}-{max(fractions):.0%} of "
            f"their ceilings: in lockstep, not randomised over 50-100 %", end,
        )  # fmt: skip
    return Expectation(
        None, line, what, True,
        f"{len(fractions)} retries within their envelope, at {min(fractions):.0%}-"
        f"{max(fractions):.0%} of their ceilings", end,
    )  # fmt: skip
