"""What a failed registration tells the phone and how it tries again: an answered 408 is no
dead site (RFC 4320), RFC 5626 §4.5's flow recovery, and the retransmissions a silent site
gets (RFC 3261 §17.1.2.2); each beside the mutant that gets it wrong."""

from __future__ import annotations

import itertools

import pytest

from endpoint.core.events import ConnectionStatus

from .harness import A, B, Harness, MiniSite, two_site_config


def _unavailable(h: Harness, conn: int) -> list[tuple[int | None, str]]:
    return [(e.code, e.reason) for e in h.conn_events()
            if e.connection == conn and e.status is ConnectionStatus.UNAVAILABLE]  # fmt: skip


@pytest.mark.parametrize("mutant", [None, "answered_408_is_timeout"])
def test_a_408_the_site_answers_is_no_dead_site_the_phone_s_own_timeout_is(
    mutant: str | None,
) -> None:
    a, b = MiniSite(A, mode="answer408"), MiniSite(B, mode="silent")
    h = Harness(two_site_config(transaction_timeout=4.0, retry_interval=30.0, mutant=mutant),
                [a, b])  # fmt: skip
    h.run(5)
    answered, = _unavailable(h, 0)
    assert answered == ((408, "SIP 408 Request Timeout") if mutant else
                        (None, "SIP 408 Request Timeout"))  # fmt: skip
    assert _unavailable(h, 1) == [(408, "timeout")]  # its own timeout: the site is down
    assert h.phone.connections[0].last_code == (408 if mutant else None)


def _gaps(h: Harness, site: object) -> list[tuple[float, float]]:
    """(when a REGISTER to ``site`` failed, how long until the next one went out)."""
    sent = [t for t, dest, m in h.sent if dest == site and m.cseq.method == "REGISTER"]
    return [(t, nxt - t) for t, nxt in itertools.pairwise(sent)]


@pytest.mark.parametrize("mutant", [None, "lockstep"])
def test_flow_recovery_waits_50_to_100_percent_of_a_doubling_ceiling(mutant: str | None) -> None:
    """Site A refuses while B works: base-time 90 s (RFC 5626's default) doubling to the
    1800 s max-time; each wait random within 50-100 % of it (the mutant: all at 100 %)."""
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(reg_interval=100.0, retry_backoff="rfc5626", mutant=mutant),
                [a, b])  # fmt: skip
    h.after(1)
    a.mode = "refuse"  # from its renewal at 100 s on
    h.run(20000)
    waits = [gap - 0.002 for t, gap in _gaps(h, A) if t >= 100]  # (the 503's round trip)
    ceilings = [min(1800.0, 90.0 * 2**n) for n in range(1, len(waits) + 1)]
    assert len(waits) >= 8
    fractions = [w / c for w, c in zip(waits, ceilings, strict=True)]
    assert all(0.5 - 1e-6 <= f <= 1.0 + 1e-6 for f in fractions), fractions
    if mutant:
        assert fractions == pytest.approx([1.0] * len(fractions), abs=1e-6)
    else:
        assert max(fractions) - min(fractions) > 0.1  # spread, not one point


def test_flow_recovery_base_is_30_s_when_every_connection_has_failed() -> None:
    a, b = MiniSite(A, mode="refuse"), MiniSite(B, mode="refuse")
    h = Harness(two_site_config(reg_interval=3600.0, retry_backoff="rfc5626",
                                backoff_max=1e6, mutant="lockstep"), [a, b])  # fmt: skip
    h.run(2000)
    waits = [round(gap - 0.002, 3) for _, gap in _gaps(h, A)][:4]
    assert waits == [60.0, 120.0, 240.0, 480.0]  # 30 s · 2^n: the first between 30 and 60 s


def test_a_fixed_retry_interval_stays_the_default() -> None:
    a, b = MiniSite(A, mode="refuse"), MiniSite(B)
    h = Harness(two_site_config(reg_interval=3600.0, retry_interval=10.0), [a, b])
    h.run(100)
    assert {round(gap, 2) for _, gap in _gaps(h, A)} == {10.0}


@pytest.mark.parametrize("mutant", [None, "no_retransmissions"])
def test_a_silent_site_gets_the_request_again_from_t1_unless_the_mutant_never_resends(
    mutant: str | None,
) -> None:
    a, b = MiniSite(A, mode="silent"), MiniSite(B)
    h = Harness(two_site_config(transaction_timeout=32.0, retry_interval=3600.0, mutant=mutant),
                [a, b])  # fmt: skip
    h.run(40)
    sent = [t for t, dest, m in h.sent if dest == A and m.cseq.method == "REGISTER"]
    if mutant:
        assert sent == [0.0]
    else:  # T1 = 0.5 s doubling to T2 = 4 s, until Timer F at 32 s: 11 sends in all
        assert sent[:5] == pytest.approx([0.0, 0.5, 1.5, 3.5, 7.5])
        assert len(sent) == 11
    assert _unavailable(h, 0) == [(408, "timeout")]  # either way, the timeout at Timer F
