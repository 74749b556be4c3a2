"""Calls nobody asked for: an INVITE rings only for a connection's user, through that
connection's site; a flood rings a bounded number of calls at once; a call nobody answers
stops ringing; ended calls are forgotten, so memory stays flat."""

from __future__ import annotations

from endpoint.core.events import SessionStatus
from endpoint.core.inbound import MAX_RINGING
from endpoint.sip import Response
from endpoint.sip.ids import IdSource

from .harness import PHONE, A, B, Harness, MiniSite, two_site_config

STRANGER = ("10.9.9.9", 5060)


def answers_to(h: Harness, where: tuple[str, int]) -> list[int]:
    return [m.status for _, dest, m in h.sent if dest == where and isinstance(m, Response)]


def test_a_call_from_an_address_that_is_no_site_of_ours_is_refused() -> None:
    a, b, stranger = MiniSite(A), MiniSite(B), MiniSite(STRANGER)
    stranger.bindings["5001"] = PHONE
    h = Harness(two_site_config(), [a, b, stranger])
    h.after(1)
    stranger.call("5001", IdSource(), h.now)
    h.pump()
    h.after(1)
    assert h.session_events() == [] and h.phone.calls.sessions == {}
    assert 404 in answers_to(h, STRANGER)


def test_a_call_for_another_user_through_our_site_is_refused() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(), [a, b])
    h.after(1)
    a.bindings["9999"] = PHONE
    a.call("9999", IdSource(), h.now)
    h.pump()
    h.after(1)
    assert h.session_events() == [] and 404 in answers_to(h, A)


def test_a_flood_rings_a_bounded_number_and_the_rest_are_busy() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(), [a, b])
    h.after(1)
    ids = IdSource()
    for _ in range(MAX_RINGING + 9):
        a.call("5001", ids, h.now)
    h.pump()
    h.after(1)
    ringing = [e for e in h.session_events() if e.status is SessionStatus.RINGING]
    assert len(ringing) == MAX_RINGING
    assert answers_to(h, A).count(486) == 9


def test_a_call_nobody_answers_stops_ringing_and_is_forgotten_later() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(ring_timeout=20), [a, b])
    h.after(1)
    a.call("5001", IdSource(), h.now)
    h.pump()
    h.after(19)
    (ringing,) = h.session_events()
    assert ringing.status is SessionStatus.RINGING
    h.after(2)
    end = h.session_events()[-1]
    assert end.status is SessionStatus.DISCONNECTED and end.reason == "RingTimeout 480"
    assert 480 in answers_to(h, A)
    assert list(h.phone.calls.sessions) == [ringing.session]
    h.after(301)
    assert h.phone.calls.sessions == {}  # ended sessions do not pile up
