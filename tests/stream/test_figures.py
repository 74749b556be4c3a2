"""DR figures measured from a drill's stream: detection, recovery, flaps and REGISTERs per
outage and connection, failover dial time; in the Markdown, HTML and JUnit reports, and
by endpoint when a run graded several. What the stream does not show is not measured."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from endpoint.core.events import (
    ConnectionStatus,
    ConnectionStatusChanged,
    SessionStatus,
    SessionStatusChanged,
)
from lab.cli.main import main
from lab.report.figures import dr_figures, summary
from lab.report.html import render_html
from lab.report.junit import render_junit
from lab.report.markdown import render_markdown
from lab.report.timeline import render_timeline
from lab.stream import events as ev
from lab.stream.results import ScenarioResult

C = ConnectionStatus
S = SessionStatus


def status(t: float, conn: int, new: C, old: C | None) -> ev.EndpointEvent:
    return ev.EndpointEvent(t=t, event=ConnectionStatusChanged(
        connection=conn, status=new, previous=old, reason="", code=None, t=t))  # fmt: skip


def session(t: float, conn: int, new: S, old: S | None, reason: str = "") -> ev.EndpointEvent:
    return ev.EndpointEvent(t=t, event=SessionStatusChanged(
        session="s1", connection=conn, status=new, previous=old, direction="outbound",
        remote="6001", reason=reason, t=t))  # fmt: skip


def register(t: float, conn: int) -> ev.SipObserved:
    return ev.SipObserved(t=t, dir="out", connection=conn, transport="udp", cseq="2 REGISTER",
                          call_id="r", method="REGISTER")  # fmt: skip


def fault(cls: type[ev.FaultApplied | ev.FaultHealed], t: float, healed: float | None
          ) -> ev.FaultApplied | ev.FaultHealed:  # fmt: skip
    # the lab's clock runs 100 s ahead of the run's; it took 0.2 s to kill the site
    return cls(t=t, id=1, kind="kill", site="a", via="process", requested_at=100.8,
               applied_at=101.0, healed_at=healed)  # fmt: skip


def drill(driver: str = "inprocess", *, recovers: bool = True) -> list[ev.Event]:
    events: list[ev.Event] = [
        ev.RunStarted(t=0.0, name="d", source="d.yaml", backend="embedded", seed=0,
                      mode="real", driver=driver),
        ev.ConnectionPlaced(t=0.0, connection=0, site="a"),
        ev.ConnectionPlaced(t=0.0, connection=1, site="b"),
        status(0.1, 0, C.REGISTERING, None), status(0.2, 0, C.AVAILABLE, C.REGISTERING),
        status(0.2, 1, C.AVAILABLE, None),
        fault(ev.FaultApplied, 1.0, None),
        *(register(t, 0) for t in (2.0, 6.0, 10.0, 14.0)),  # every 4 s while A is out
        status(2.5, 0, C.UNAVAILABLE, C.AVAILABLE),
        session(3.0, 0, S.DIALING, None), session(3.5, 1, S.DIALING, S.DIALING, "failover"),
        session(4.3, 1, S.ESTABLISHED, S.DIALING),
        fault(ev.FaultHealed, 15.8, 116.0),
    ]
    if recovers:
        events.append(status(16.4, 0, C.AVAILABLE, C.UNAVAILABLE))
    events.append(ev.RunFinished(t=17.0, passed=True, duration=17.0))
    return events


def test_an_outage_is_measured_from_when_the_lab_set_about_it() -> None:
    f = dr_figures(drill())
    (outage,) = f.outages  # only connection 0 is on the killed site
    assert (outage.connection, outage.site, outage.fault) == (0, "a", "kill")
    assert outage.start == pytest.approx(0.8)  # requested 0.2 s before it was applied
    assert outage.detection == pytest.approx(1.7)
    assert outage.recovery == pytest.approx(0.6)  # heal (15.8) to Available (16.4)
    assert outage.flaps == 2
    assert outage.registers == 4 and outage.registers_per_min == pytest.approx(4 / 15 * 60)
    (dial,) = f.dials
    assert (dial.connection, dial.to) == (0, 1) and dial.seconds == pytest.approx(1.3)


def test_a_recovery_is_measured_from_when_the_lab_set_about_the_heal() -> None:
    """A restarted site may answer before the lab's heal returns: an Available between
    the heal's start and its end is a recovery (0.3 s here), not one never seen."""
    events = drill(recovers=False)
    at = next(i for i, e in enumerate(events) if isinstance(e, ev.FaultHealed))
    events[at] = dataclasses.replace(events[at], heal_requested_at=115.5)  # 0.5 s to heal
    events.insert(at, status(15.6, 0, C.AVAILABLE, C.UNAVAILABLE))  # before the heal returned
    (outage,) = dr_figures(events).outages
    assert outage.recovery == pytest.approx(0.3)  # from 15.3, when the heal began
    assert outage.end == pytest.approx(15.3)


def test_what_the_stream_does_not_show_is_not_measured() -> None:
    f = dr_figures(drill(recovers=False))
    assert f.outages[0].recovery is None and f.outages[0].flaps == 1
    events = [e for e in drill() if not (isinstance(e, ev.EndpointEvent)
                                         and isinstance(e.event, ConnectionStatusChanged)
                                         and e.t > 1)]  # fmt: skip
    unnoticed = dr_figures(events).outages[0]
    assert unnoticed.detection is None and unnoticed.recovery is None and unnoticed.flaps == 0
    # a dial that stays on the dead site's connection did not fail over
    stuck = [e for e in drill() if not (isinstance(e, ev.EndpointEvent)
                                        and isinstance(e.event, SessionStatusChanged)
                                        and e.event.connection == 1)]  # fmt: skip
    (dial,) = dr_figures(stuck).dials
    assert dial.to is None and dial.seconds is None
    assert not dr_figures(drill()[:6])  # no fault, no dial: nothing to measure


def test_figures_are_in_every_report_and_by_endpoint_for_several() -> None:
    results = [ScenarioResult.of(drill("inprocess")),
               ScenarioResult.of(drill("baresip", recovers=False))]  # fmt: skip
    s = summary(dr_figures(r.events) for r in results)
    assert (s.outages, s.detected, s.healed, s.recovered, s.failed_over) == (2, 2, 2, 1, 2)
    meta = {"id": "x", "seed": 0, "mode": "real", "backend": "embedded"}
    text = render_markdown(meta, results)
    assert "| endpoint | detection (median) |" in text
    assert "| inprocess | 1.70s (1/1) | 0.60s (1/1) | 1.30s (1/1) | 2 |" in text
    assert "| baresip | 1.70s (1/1) | not seen (0/1) | 1.30s (1/1) | 1 |" in text
    assert "| 0 | a | kill | 1.70s | 0.60s | 2 | 4 (16/min) |" in text
    page = render_html(meta, results)
    assert page.count('class="figures"') == 2 and 'class="endpoints"' in page
    suites = ET.fromstring(render_junit(meta, results))
    props = {p.get("name"): p.get("value") for p in suites.iter("property")}
    assert props["dr.outage1.detection_s"] == "1.700" and props["dr.dial1.failover_s"] == "1.300"


def _timeline(tmp_path: Path, name: str, *drills: list[ev.Event]) -> Path:
    path = tmp_path / name
    path.write_text(render_timeline({"id": name, "seed": 0, "mode": "real"},
                                    [ScenarioResult.of(d) for d in drills]))  # fmt: skip
    return path


def slower(events: list[ev.Event], by: float) -> list[ev.Event]:
    """The same drill with connection 0 seeing site A go ``by`` seconds later."""
    out: list[ev.Event] = []
    for e in events:
        late = (isinstance(e, ev.EndpointEvent) and isinstance(e.event, ConnectionStatusChanged)
                and e.event.status == "Unavailable")  # fmt: skip
        out.append(dataclasses.replace(e, t=e.t + by) if late else e)
    return out


def failed(events: list[ev.Event]) -> list[ev.Event]:
    return [dataclasses.replace(e, passed=False) if isinstance(e, ev.RunFinished) else e
            for e in events]  # fmt: skip


def test_runs_compared_exit_1_when_a_verdict_or_a_figure_got_worse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = _timeline(tmp_path, "old.json", drill())
    same = _timeline(tmp_path, "same.json", slower(drill(), 0.2))  # 1.7 s -> 1.9 s: +12 %
    worse = _timeline(tmp_path, "worse.json", slower(drill(), 0.8))  # 1.7 s -> 2.5 s: +47 %
    broken = _timeline(tmp_path, "broken.json", failed(drill()))
    assert main(["report", "--compare", str(old), str(same)]) == 0
    assert "| d | PASS → PASS | 1.70s → 1.90s (+12%) |" in capsys.readouterr().out
    assert main(["report", "--compare", str(old), str(worse), "--out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "1 drill(s) worse" in out and "**1.70s → 2.50s (+47%)**" in out
    assert (tmp_path / "compare.md").read_text() == out
    assert main(["report", "--compare", str(old), str(worse), "--max-regression", "50%"]) == 0
    assert main(["report", "--compare", str(old), str(worse), "--ignore-below", "1"]) == 0
    capsys.readouterr()
    assert main(["report", "--compare", str(old), str(broken)]) == 1
    assert "**PASS → FAIL**" in capsys.readouterr().out
    assert main(["report", "--compare", str(old), str(tmp_path / "none.json")]) == 2
    assert main(["report", "--compare", str(old), str(same), "--max-regression", "lots"]) == 2


def _granted(t: float, conn: int, site: str) -> ev.SipObserved:
    return ev.SipObserved(t=t, dir="in", connection=conn, transport="udp", cseq="3 REGISTER",
                          call_id="r", status=200, site=site)  # fmt: skip


def test_a_named_connection_s_next_target_and_a_dns_change_followed() -> None:
    """Measured off the sip events' sites: from the outage to the first registration
    another site granted (kept only where it moved), and from a DNS change to it (kept
    moved or not: "did not follow")."""
    kill = ev.FaultApplied(t=2.0, id=1, kind="kill", site="a", via="process",
                           requested_at=2.0, applied_at=2.0, healed_at=None)  # fmt: skip
    flip = ev.FaultApplied(t=5.0, id=2, kind="dns_change", site="a", via="dns",
                           requested_at=5.0, applied_at=5.0, healed_at=None)  # fmt: skip
    stay = ev.FaultApplied(t=6.0, id=3, kind="dns_change", site="b", via="dns",
                           requested_at=6.0, applied_at=6.0, healed_at=None)  # fmt: skip
    events: list[ev.Event] = [
        ev.ConnectionPlaced(t=0.0, connection=0, site="a"),
        ev.ConnectionPlaced(t=0.0, connection=1, site="b"),
        _granted(1.0, 0, "a"), kill, _granted(2.5, 0, "a"),  # (a late 200 of a: no move)
        _granted(3.25, 1, "b"), _granted(4.5, 0, "b"), flip, _granted(6.5, 0, "b"), stay,
    ]  # fmt: skip
    moves = dr_figures(events).moves
    assert [(m.connection, m.fault, m.to, m.seconds) for m in moves] == [
        (0, "kill", "b", 2.5), (0, "dns_change", "b", 1.5), (1, "dns_change", None, None)]
    result = ScenarioResult.of([
        ev.RunStarted(t=0.0, name="d", source="d.yaml", backend="embedded", seed=0,
                      mode="real", driver="inprocess"), *events,
        ev.RunFinished(t=7.0, passed=True, duration=7.0)])  # fmt: skip
    meta = {"id": "x", "seed": 0, "mode": "real", "backend": "embedded"}
    md = render_markdown(meta, [result])
    assert "| 0 | a | kill | b | 2.50s |" in md and "| 1 | b | dns_change | — | did not follow |" in md
    props = {p.get("name"): p.get("value") for p in
             ET.fromstring(render_junit(meta, [result])).iter("property")}  # fmt: skip
    assert props["dr.move1.next_target_s"] == "2.500" and props["dr.move2.dns_follow_s"] == "1.500"
    assert "dr.move3.to" not in props
