"""The endpoint's word against the wire, on streams with known answers: an honest stream
passes every rule, and each lie is caught with both sides said."""

from __future__ import annotations

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from endpoint.core.status import ConnectionStatus, SessionStatus
from lab.run.wirechecks import wire_checks
from lab.stream.events import EndpointEvent, Event, SipObserved

C = ConnectionStatus
CONNS = {
    0: ConnectionConfig(id=0, user="5001", server="127.0.0.1", transaction_timeout=2.0),
    1: ConnectionConfig(id=1, user="5001", server="127.0.0.2", protocol="tls"),
}


def status(t: float, conn: int, now: ConnectionStatus, before: ConnectionStatus | None,
           code: int | None = None) -> EndpointEvent:  # fmt: skip
    return EndpointEvent(t=t, event=ConnectionStatusChanged(conn, now, before, "", code, t))


def session(t: float, sid: str, conn: int, now: SessionStatus, direction: str = "outbound"
            ) -> EndpointEvent:  # fmt: skip
    return EndpointEvent(t=t, event=SessionStatusChanged(
        session=sid, connection=conn, status=now, previous=None, direction=direction,
        remote="6001", t=t))  # fmt: skip


def sip(t: float, conn: int, d: str, cseq: str, status: int | None = None,
        call_id: str = "c1", dropped: bool = False) -> SipObserved:  # fmt: skip
    method = None if status is not None else cseq.split()[1]
    return SipObserved(t=t, dir=d, connection=conn, transport="udp", cseq=cseq,
                       call_id=call_id, method=method, status=status, dropped=dropped)  # fmt: skip


HONEST: list[Event] = [
    status(0.0, 0, C.REGISTERING, None),
    sip(0.01, 0, "out", "1 REGISTER"),
    sip(0.02, 0, "in", "1 REGISTER", 200),
    status(0.03, 0, C.AVAILABLE, C.REGISTERING, 200),
    sip(5.0, 0, "out", "2 REGISTER"),
    sip(5.5, 0, "out", "2 REGISTER"),  # a retransmission: the first send counts
    status(7.0, 0, C.UNAVAILABLE, C.AVAILABLE, 408),
    sip(8.0, 0, "out", "3 REGISTER"),
    sip(8.01, 0, "in", "3 REGISTER", 200),
    status(8.02, 0, C.AVAILABLE, C.UNAVAILABLE, 200),
    session(9.0, "s1", 0, SessionStatus.DIALING),
    sip(9.01, 0, "out", "1 INVITE", call_id="i1"),
    sip(9.5, 0, "in", "1 INVITE", 200, call_id="i1"),
    session(9.51, "s1", 0, SessionStatus.ESTABLISHED),
    status(10.0, 1, C.AVAILABLE, C.REGISTERING, 200),  # over TLS: the proxy cannot read it
]


def failed(events: list[Event]) -> list[str]:
    return [e.observed for e in wire_checks(events, CONNS, tap=False) if not e.passed]


def test_an_honest_stream_passes_every_rule_it_gives_something_to_judge() -> None:
    checks = wire_checks(HONEST, CONNS, tap=False)
    assert [c.passed for c in checks] == [True, True, True]
    assert [c.expected.split(": ", 1)[1].split()[0] for c in checks] == [
        "Available", "Unavailable", "a"]  # fmt: skip


def test_available_without_a_2xx_on_the_wire_is_a_lie() -> None:
    lying = [status(0.0, 0, C.REGISTERING, None), sip(0.01, 0, "out", "1 REGISTER"),
             status(0.02, 0, C.AVAILABLE, C.REGISTERING, 200)]  # fmt: skip
    (why,) = failed(lying)
    assert "connection 0 said Available at 0.020s" in why
    assert "no 2xx to its REGISTER at all (its answers: none)" in why


def test_a_2xx_before_the_failure_does_not_count_nor_does_a_dropped_one() -> None:
    events = [*HONEST[:7], sip(7.5, 0, "in", "2 REGISTER", 200, dropped=True),
              status(7.6, 0, C.AVAILABLE, C.UNAVAILABLE, 200)]  # fmt: skip
    (why,) = failed(events)
    assert "since its failure at 7.000s" in why


def test_a_408_while_every_request_was_answered_is_a_lie() -> None:
    events = [*HONEST[:4], sip(5.0, 0, "out", "2 REGISTER"), sip(5.01, 0, "in", "2 REGISTER", 200),
              status(5.2, 0, C.UNAVAILABLE, C.AVAILABLE, 408)]  # fmt: skip
    (why,) = failed(events)
    assert "said Unavailable (408)" in why and "REGISTER at 5.000s (answered)" in why


def test_a_408_sooner_than_half_the_transaction_time_is_not_borne_out() -> None:
    events = [*HONEST[:4], sip(5.0, 0, "out", "2 REGISTER"),
              status(5.5, 0, C.UNAVAILABLE, C.AVAILABLE, 408)]  # fmt: skip
    assert len(failed(events)) == 1


def test_established_without_a_2xx_and_a_failover_without_an_invite_are_lies() -> None:
    events = [*HONEST[:10], session(9.0, "s1", 0, SessionStatus.DIALING),
              sip(9.01, 0, "out", "1 INVITE", call_id="i1"),
              session(9.4, "s1", 0, SessionStatus.ESTABLISHED),
              session(12.0, "s2", 0, SessionStatus.DIALING),
              session(13.0, "s2", 2, SessionStatus.DIALING)]  # fmt: skip
    conns = {**CONNS, 2: ConnectionConfig(id=2, user="5001", server="127.0.0.3")}
    bad = [e.observed for e in wire_checks(events, conns, tap=False) if not e.passed]
    assert any("session s1 said Established" in b and "no 2xx to an INVITE from" in b
               for b in bad)  # fmt: skip
    assert any("session s2 moved to connection 2 at 13.000s (from 0)" in b for b in bad)


def test_tls_is_judged_only_where_the_endpoint_taps_its_own_wire() -> None:
    tls_lie = [status(0.0, 1, C.AVAILABLE, C.REGISTERING, 200)]
    assert wire_checks(tls_lie, CONNS, tap=False) == []
    (check,) = wire_checks(tls_lie, CONNS, tap=True)
    assert not check.passed
