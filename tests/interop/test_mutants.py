"""geolab bench mutants on a small subset: a broken endpoint is failed by the drill made
for what it breaks (the honest phone, run the same way, passes); the event mutants bend
exactly the events they are about."""

from __future__ import annotations

import pytest

from bench.mutants import LATE, MUTANTS, _bend, main
from endpoint.config import CORE_MUTANTS

pytestmark = pytest.mark.interop


def test_event_mutants_bend_what_they_say() -> None:
    status = {"event": "ConnectionStatusChanged", "connection": 0, "status": "Available",
              "t": 5.0}  # fmt: skip
    call = {"event": "SessionStatusChanged", "connection": 1, "session": "s1"}
    assert _bend("reports_twice", status, 2) == [(0.0, status), (0.0, status)]
    assert _bend("reports_late", status, 2) == [(LATE, {**status, "t": 5.0 + LATE})]
    assert _bend("wrong_connection", call, 2) == [(0.0, {**call, "connection": 0})]
    ready = _bend("available_without_registering", {"event": "Ready"}, 2)
    assert [e.get("status") for _, e in ready] == [None, "Available", "Available"]
    assert _bend("reports_twice", call, 2) == [(0.0, call)]  # only what it is about
    assert set(CORE_MUTANTS) < set(MUTANTS)


def test_the_renewal_drill_kills_the_flapping_and_the_double_reporting_phone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main("embedded", ["flaps", "reports_twice"], ["steady-renewals"])
    out = capsys.readouterr().out
    assert "flaps" in out and "killed by 1: steady-renewals" in out
    assert out.strip().endswith("mutants killed: 2 of 2")
    assert code == 0


def test_the_interval_too_brief_drill_kills_the_phone_that_takes_a_423_for_a_dead_site(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main("embedded", ["ignores_423"], ["interval-too-brief"])
    out = capsys.readouterr().out
    assert "killed by 1: interval-too-brief" in out
    assert out.strip().endswith("mutants killed: 1 of 1")
    assert code == 0

