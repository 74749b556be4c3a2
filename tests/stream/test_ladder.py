"""The SIP ladder drawn from a stream: an arrow per SIP message between the right columns,
retransmissions named, drops ending at the proxy, routine exchanges folded, faults and
failed expectations in their place; the lanes' fault labels drawn apart."""

from __future__ import annotations

import re

from lab.report.html import lanes_svg
from lab.report.ladder import ladder_html
from lab.stream import events as ev
from lab.stream.results import ScenarioResult


def sip(t: float, d: str, method: str | None = None, status: int | None = None, *,
        cseq: str = "1 REGISTER", dropped: bool = False, conn: int = 0) -> ev.SipObserved:  # fmt: skip
    return ev.SipObserved(t=t, dir=d, connection=conn, transport="udp", cseq=cseq, call_id="c",
                          method=method, status=status, dropped=dropped,
                          text=f"{method or status} <b>\r\nAuthorization: [redacted]")  # fmt: skip


def fault(cls: type[ev.FaultApplied | ev.FaultHealed], t: float, fid: int, kind: str
          ) -> ev.FaultApplied | ev.FaultHealed:  # fmt: skip
    return cls(t=t, id=fid, kind=kind, site="a", via="proxy", requested_at=t, applied_at=t,
               healed_at=t + 1 if cls is ev.FaultHealed else None)  # fmt: skip


def drill() -> ScenarioResult:
    routine = [m for n in range(4) for m in (sip(1 + n, "out", "REGISTER", cseq=f"{n} REGISTER"),
                                             sip(1.1 + n, "in", status=200, cseq=f"{n} REGISTER"))]  # fmt: skip
    events: list[ev.Event] = [
        ev.RunStarted(t=0.0, name="d", source="d.yaml", backend="x", seed=0, mode="real"),
        ev.LabUp(t=0.0, backend="x", sites=("a", "b")),
        ev.ConnectionPlaced(t=0.0, connection=0, site="a"),
        ev.ConnectionPlaced(t=0.0, connection=1, site="b"),
        *routine,
        fault(ev.FaultApplied, 10.0, 1, "sip_drop"),
        fault(ev.FaultApplied, 10.0, 2, "latency"),
        sip(10.5, "out", "INVITE", cseq="5 INVITE"),
        sip(11.0, "out", "INVITE", cseq="5 INVITE", dropped=True),  # the same, again: dropped
        sip(11.5, "out", "INVITE", cseq="6 INVITE", conn=1),
        sip(11.6, "in", status=200, cseq="6 INVITE", conn=1),
        ev.PartyChanged(t=11.7, name="callee", kind="callee", state="started"),
        ev.ExpectationChecked(t=12.0, step=3, line=17, passed=False, expected="x", observed="y",
                              at=12.0),
        fault(ev.FaultHealed, 13.0, 1, "sip_drop"),
        ev.RunFinished(t=14.0, passed=False, duration=14.0),
    ]
    return ScenarioResult.of(events)


def test_an_arrow_per_message_between_the_right_columns() -> None:
    page = ladder_html(drill(), "d0")
    assert page.count('class="arrow"') == 12  # every SIP message, folded ones too
    heads = re.findall(r'text-anchor="middle" font-weight="bold">([^<]+)<', page)
    assert heads == ["connection 0", "connection 1", "fault proxy", "site a", "site b",
                     "party callee"]  # fmt: skip
    # 8 routine messages in a row fold into one row that opens on a click
    assert "▸ 8 routine messages" in page and page.count('data-fold="0"') == 8
    assert "INVITE (retransmission 1) (dropped by the fault proxy)" in page and "✕" in page
    assert "✘ line 17: x" in page  # where the expectation's window ended
    assert page.count('class="fault-start"') == 2 and page.count('class="fault-end"') == 1
    assert 'href="#d0-fault-1"' in page and 'id="d0-fault-1"' in page
    assert "&lt;b&gt;" in page and "<b>" not in page  # the message, escaped, for a click
    # rows in time order: the fault's row comes before the INVITE sent during it
    assert page.index("▼ fault sip_drop a") < page.index(">INVITE<")


def test_no_sip_no_ladder_and_fault_labels_that_start_together_are_drawn_apart() -> None:
    quiet = ScenarioResult.of([e for e in drill().events if not isinstance(e, ev.SipObserved)])
    assert ladder_html(quiet, "d1") == ""
    svg = lanes_svg(drill())
    labels = re.findall(r'class="fault-label" x="([\d.]+)" y="(\d+)"', svg)
    assert len(labels) == 2 and labels[0][0] == labels[1][0]  # the same start
    assert labels[0][1] != labels[1][1]  # on separate lines
