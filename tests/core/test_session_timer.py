"""RFC 4028 session timers in the sans-I/O phone: a call whose INVITE asked for one is
refreshed at half its interval while its site answers, and ended (BYE, SipError 408) once
a refresh finds the site gone; the other side's refreshes keep an inbound call up, and their
absence ends it. Without the setting, or when the answer grants none, nothing changes."""

from __future__ import annotations

import pytest

from endpoint.core.events import SessionStatus
from endpoint.core.sessiontimer import deadline, granted, offer, ours
from endpoint.sip.ids import IdSource
from endpoint.sip.message import make_response
from endpoint.sip.parser import parse_message

from .harness import A, B, Harness, MiniSite, two_site_config


def requests_to(h: Harness, dest: tuple[str, int], method: str) -> list[float]:
    return [t for t, d, m in h.sent if d == dest and getattr(m, "method", "") == method]


def test_what_a_message_grants_and_when_the_phone_acts() -> None:
    invite = parse_message(b"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                           b"From: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\r\n"
                           b"CSeq: 1 INVITE\r\nx: 1800 ; Refresher=UAS\r\n\r\n")  # fmt: skip
    assert granted(invite) == (1800, "uas")
    ok = make_response(invite, 200)
    assert granted(ok) is None  # an answer grants only what it says itself
    ok.headers.add("Session-Expires", "90")
    assert granted(ok) == (90, None)
    for bad in ("", "abc", "0", "12a;refresher=uac"):
        ok.headers.set("Session-Expires", bad)
        assert granted(ok) is None, bad
    assert offer(90.4) == [("Supported", "timer"), ("Session-Expires", "90;refresher=uac")]
    assert ours("uac", we_asked=True) and not ours("uac", we_asked=False)
    assert ours("uas", we_asked=False) and ours(None, we_asked=True)
    assert deadline(90, True, 10.0) == ("refresh", 55.0)
    assert deadline(90, False, 10.0) == ("expire", 70.0)  # 90 - min(32, 30)
    assert deadline(1800, False, 0.0) == ("expire", 1768.0)  # 1800 - 32


@pytest.mark.parametrize("mutant", [None, "keeps_dead_calls"])
def test_refreshed_while_the_site_answers_ended_once_a_refresh_finds_it_dead(
    mutant: str | None,
) -> None:
    a, b = MiniSite(A, session_timer=True), MiniSite(B)
    h = Harness(two_site_config(session_expires=20.0, transaction_timeout=4.0, mutant=mutant),
                [a, b])  # fmt: skip
    h.after(1)
    sid = h.phone.calls.dial(0, "6001", h.now)
    h.pump()
    h.after(1)  # established at ~1 s
    assert h.session_events(sid)[-1].status is SessionStatus.ESTABLISHED
    (invite,) = [m for _, d, m in h.sent if d == A and getattr(m, "method", "") == "INVITE"]
    assert invite.headers.get("Session-Expires") == "20;refresher=uac"  # type: ignore[union-attr]
    h.run(45)  # refreshes at 11, 21, 31, 41 s: each answered, the call stays up
    assert len(requests_to(h, A, "INVITE")) == 5
    assert h.session_events(sid)[-1].status is SessionStatus.ESTABLISHED
    a.mode = "silent"  # the site dies under the call
    h.run(80)
    last = h.session_events(sid)[-1]
    if mutant:
        assert last.status is SessionStatus.ESTABLISHED  # left up: what the drill catches
    else:  # the refresh at 51 s times out at 55 s: BYE, and the call is over
        assert last.status is SessionStatus.DISCONNECTED
        assert last.reason == "SipError 408 Request Timeout" and last.code == 408
        assert last.t == pytest.approx(55.0, abs=0.1)
        assert requests_to(h, A, "BYE")


def test_no_session_timer_without_the_setting_or_when_the_answer_grants_none() -> None:
    for site, config in ((MiniSite(A, session_timer=True), two_site_config()),
                         (MiniSite(A), two_site_config(session_expires=20.0))):  # fmt: skip
        h = Harness(config, [site, MiniSite(B)])
        h.after(1)
        sid = h.phone.calls.dial(0, "6001", h.now)
        h.pump()
        h.run(100)
        assert len(requests_to(h, A, "INVITE")) == 1  # no refresh
        assert h.session_events(sid)[-1].status is SessionStatus.ESTABLISHED


def test_an_inbound_call_lives_on_the_other_side_s_refreshes_and_ends_without_them() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(session_expires=20.0, auto_answer=True), [a, b])
    h.after(1)
    invite = b.call("5001", IdSource(), h.now)
    invite.headers.add("Supported", "timer")
    invite.headers.add("Session-Expires", "30")
    h.pump()
    h.after(2)
    (e,) = [e for e in h.session_events() if e.status is SessionStatus.ESTABLISHED]
    answers = [m for _, d, m in h.sent if d == B and getattr(m, "status", 0) == 200]
    assert answers[-1].headers.get("Session-Expires") == "30;refresher=uac"  # type: ignore[union-attr]
    assert answers[-1].headers.get("Require") == "timer"  # type: ignore[union-attr]
    h.run(100)  # no refresh comes: at 30 - 10 s after the answer the phone gives it up
    last = h.session_events(e.session)[-1]
    assert last.status is SessionStatus.DISCONNECTED and last.reason == "SessionExpired"
    assert last.t == pytest.approx(e.t + 20.0, abs=0.1)
    assert requests_to(h, B, "BYE")
