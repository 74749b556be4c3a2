"""Calls through the sans-I/O phone, in virtual time."""

from __future__ import annotations

import pytest

from endpoint.core.events import ConnectionStatus, SessionStatus
from endpoint.sip.ids import IdSource
from endpoint.sip.sdp import parse_sdp

from .harness import A, B, Harness, MiniSite, two_site_config


def invites_to(h: Harness, dest: tuple[str, int]) -> list[object]:
    return [m for _, d, m in h.sent if d == dest and getattr(m, "method", "") == "INVITE"]


def test_dial_goes_out_through_the_chosen_connection() -> None:
    h = Harness(two_site_config(), [MiniSite(A), MiniSite(B)])
    h.after(1)
    sid = h.phone.calls.dial(1, "6001", h.now)
    h.pump()
    h.after(1)
    statuses = [(e.status.value, e.connection) for e in h.session_events(sid)]
    assert statuses == [("Dialing", 1), ("Ringing", 1), ("Established", 1)]
    assert len(invites_to(h, B)) == 1 and invites_to(h, A) == []
    assert h.session_events(sid)[-1].properties == {"connection_id": 1}


def test_dial_on_an_unavailable_connection_goes_out_via_the_other_site_at_once() -> None:
    h = Harness(two_site_config(), [MiniSite(A, mode="refuse"), MiniSite(B)])
    h.after(1)
    assert h.phone.connections[0].status is ConnectionStatus.UNAVAILABLE
    sid = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(1)
    assert [(e.status.value, e.connection) for e in h.session_events(sid)][-1] == ("Established", 1)
    assert invites_to(h, A) == []  # nothing went to the site known to be down


def test_invite_to_a_silently_dead_site_times_out_then_fails_over() -> None:
    a = MiniSite(A)
    h = Harness(two_site_config(invite_timeout=4.0), [a, MiniSite(B)])
    h.after(1)
    a.mode = "silent"
    start = h.now
    sid = h.phone.calls.dial(0, "6001", start)
    h.pump()
    h.after(10)
    down = [e for e in h.conn_events() if e.status is ConnectionStatus.UNAVAILABLE]
    assert [(e.connection, e.code) for e in down] == [(0, 408)]
    assert down[0].t == pytest.approx(start + 4.0)
    events = h.session_events(sid)
    assert [(e.status.value, e.connection) for e in events] == [
        ("Dialing", 0),
        ("Dialing", 1),
        ("Ringing", 1),
        ("Established", 1),
    ]
    assert events[1].reason == "failover"


def test_no_failover_means_sip_error_408() -> None:
    a = MiniSite(A)
    h = Harness(two_site_config(invite_timeout=2.0, failover=False), [a, MiniSite(B)])
    h.after(1)
    a.mode = "silent"
    sid = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(5)
    last = h.session_events(sid)[-1]
    assert last.status is SessionStatus.DISCONNECTED
    assert last.code == 408 and last.reason == "SipError 408 Request Timeout"


def test_second_call_puts_the_first_on_hold() -> None:
    h = Harness(two_site_config(), [MiniSite(A), MiniSite(B)])
    h.after(1)
    first = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(1)
    second = h.phone.calls.dial(1, "6002", h.now)
    h.pump()
    h.after(1)
    assert h.session_events(first)[-1].status is SessionStatus.ON_HOLD
    assert h.session_events(second)[-1].status is SessionStatus.ESTABLISHED
    reinvite = [m for _, d, m in h.sent if d == A and getattr(m, "method", "") == "INVITE"][-1]
    assert parse_sdp(reinvite.body).direction == "sendonly"  # type: ignore[attr-defined]
    h.phone.calls.resume(first, h.now)
    h.pump()
    h.after(1)
    assert h.session_events(first)[-1].status is SessionStatus.ESTABLISHED


def test_inbound_call_rings_on_its_connection_and_answer_holds_the_other() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(), [a, b])
    h.after(1)
    out = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(1)
    b.call("5001", IdSource(), h.now)
    h.pump()
    h.after(1)
    inbound = [e for e in h.session_events() if e.direction == "inbound"]
    assert [(e.status.value, e.connection) for e in inbound] == [("Ringing", 1)]
    assert (
        h.session_events(out)[-1].status is SessionStatus.ESTABLISHED
    )  # still on, second line rings
    h.phone.calls.answer(inbound[0].session, h.now)
    h.pump()
    h.after(1)
    assert h.session_events(inbound[0].session)[-1].status is SessionStatus.ESTABLISHED
    assert h.session_events(out)[-1].status is SessionStatus.ON_HOLD


def test_auto_answer_when_the_invite_asks_for_it() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(auto_answer=True), [a, b])
    h.after(1)
    a.call("5001", IdSource(), h.now)
    h.pump()
    h.after(1)
    (ringing, established) = h.session_events()
    assert (ringing.status, established.status) == (
        SessionStatus.RINGING,
        SessionStatus.ESTABLISHED,
    )
    assert established.connection == 0


def test_hangup_sends_bye_and_disconnects() -> None:
    h = Harness(two_site_config(), [MiniSite(A), MiniSite(B)])
    h.after(1)
    sid = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(1)
    h.phone.calls.hangup(sid, h.now)
    h.pump()
    h.after(1)
    assert h.session_events(sid)[-1].reason == "LocalHangup"
    assert any(getattr(m, "method", "") == "BYE" for _, _, m in h.sent)
