"""Transaction state machines driven with an injected clock: no sockets, no sleeping."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip import Request, Response, TransactionStateError, make_response
from endpoint.sip.events import (
    RequestReceived,
    ResponseReceived,
    StrayResponse,
    TransactionTerminated,
)
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.timers import Timer, TimerConfig
from endpoint.sip.transaction import INITIAL, QUIET, TABLES, Input, Kind, State, Transaction

from .helpers import request

SITE = ("192.0.2.1", 5060)


def drain_events(layer: TransactionLayer) -> list[object]:
    events = []
    while (e := layer.next_event()) is not None:
        events.append(e)
    return events


def run_until(layer: TransactionLayer, end: float) -> list[tuple[float, Request | Response]]:
    """Fire timers up to ``end``; return (time, message) for everything sent."""
    sent = [(0.0, out.message) for out in layer.datagrams_to_send()]
    while (deadline := layer.next_timer()) is not None and deadline <= end:
        layer.handle_timer(deadline)
        sent += [(deadline, out.message) for out in layer.datagrams_to_send()]
    return sent


def test_udp_register_retransmits_with_doubling_interval_and_times_out_at_64_t1() -> None:
    layer = TransactionLayer()
    layer.send_request(request(), SITE, "udp", now=0.0)
    sent = run_until(layer, 100.0)
    times = [t for t, _ in sent]
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    # Timer E: 0.5, 1, 2, then capped at T2 = 4 s
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0]
    assert set(gaps[4:]) == {4.0}
    assert times[-1] < 32.0
    events = drain_events(layer)
    timeouts = [e for e in events if isinstance(e, ResponseReceived)]
    assert len(timeouts) == 1
    assert timeouts[0].response.status == 408 and timeouts[0].local
    assert isinstance(events[-1], TransactionTerminated) and events[-1].reason == "timeout"
    assert layer.transactions == {}


def test_timeout_lands_exactly_at_64_t1_for_any_t1() -> None:
    for t1 in (0.05, 0.5, 1.0):
        layer = TransactionLayer({"udp": TimerConfig(t1=t1, t2=max(t1, 4.0))})
        layer.send_request(request(), SITE, "udp", now=10.0)
        fired_at = None
        while (deadline := layer.next_timer()) is not None:
            layer.handle_timer(deadline)
            for e in drain_events(layer):
                if isinstance(e, ResponseReceived):
                    fired_at = deadline
        assert fired_at == pytest.approx(10.0 + 64 * t1)


def test_tcp_does_not_retransmit() -> None:
    layer = TransactionLayer()
    layer.send_request(request(transport="TCP"), SITE, "tcp", now=0.0)
    sent = run_until(layer, 100.0)
    assert len(sent) == 1
    (event, _terminated) = drain_events(layer)
    assert isinstance(event, ResponseReceived) and event.response.status == 408


def test_final_response_stops_retransmission_and_absorbs_copies() -> None:
    layer = TransactionLayer()
    req = request()
    layer.send_request(req, SITE, "udp", now=0.0)
    layer.datagrams_to_send()
    layer.handle_timer(0.5)  # one retransmission
    assert len(layer.datagrams_to_send()) == 1
    ok = make_response(req, 200)
    layer.receive(ok, SITE, "udp", now=0.7)
    layer.receive(ok, SITE, "udp", now=0.8)  # a retransmitted 200 is absorbed
    events = drain_events(layer)
    assert [type(e) for e in events] == [ResponseReceived]
    # Timer K ends it quietly: it wakes nobody, nothing is re-sent, and the next use of the
    # layer after K (5 s after the 200) finds it ended
    assert layer.next_timer() is None
    assert run_until(layer, 10.0) == []
    layer.receive(ok, SITE, "udp", now=5.69)  # still within K: absorbed
    assert drain_events(layer) == []
    layer.handle_timer(5.7)
    (terminated,) = drain_events(layer)
    assert isinstance(terminated, TransactionTerminated) and terminated.reason == "completed"
    assert layer.transactions == {}


def test_provisional_moves_non_invite_to_t2_retransmits() -> None:
    layer = TransactionLayer()
    req = request()
    layer.send_request(req, SITE, "udp", now=0.0)
    layer.datagrams_to_send()
    layer.receive(make_response(req, 100), SITE, "udp", now=0.1)
    layer.handle_timer(0.5)  # E fires at 0.5, next interval is T2
    assert layer.next_timer() == pytest.approx(4.5)


def test_invite_client_retransmits_without_cap_and_acks_failures() -> None:
    layer = TransactionLayer()
    req = request("INVITE")
    layer.send_request(req, SITE, "udp", now=0.0)
    sent = run_until(layer, 10.0)
    gaps = [round(b[0] - a[0], 6) for a, b in itertools.pairwise(sent)]
    assert gaps == [0.5, 1.0, 2.0, 4.0]  # Timer A keeps doubling
    busy = make_response(req, 486, to_tag="callee")
    layer.receive(busy, SITE, "udp", now=10.0)
    (ack,) = [o.message for o in layer.datagrams_to_send()]
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.via.branch == req.via.branch
    assert ack.to.tag == "callee"
    layer.receive(busy, SITE, "udp", now=10.2)  # retransmitted 486 -> ACK again
    assert [o.message.method for o in layer.datagrams_to_send()] == ["ACK"]  # type: ignore[union-attr]


def test_provisional_stops_invite_timers() -> None:
    layer = TransactionLayer()
    req = request("INVITE")
    layer.send_request(req, SITE, "udp", now=0.0)
    layer.datagrams_to_send()
    layer.receive(make_response(req, 180, to_tag="x"), SITE, "udp", now=0.2)
    assert layer.next_timer() is None  # no more retransmissions, no Timer B in Proceeding
    layer.handle_timer(100.0)
    assert layer.datagrams_to_send() == []


def test_invite_2xx_is_accepted_and_retransmissions_go_to_the_user() -> None:
    layer = TransactionLayer()
    req = request("INVITE")
    layer.send_request(req, SITE, "udp", now=0.0)
    ok = make_response(req, 200, to_tag="x")
    layer.receive(ok, SITE, "udp", now=0.1)
    layer.receive(ok, SITE, "udp", now=0.6)
    responses = [e for e in drain_events(layer) if isinstance(e, ResponseReceived)]
    assert [r.response.status for r in responses] == [200, 200]
    assert layer.next_timer() is None  # Timer M (32 s) is quiet: it wakes nobody
    layer.receive(ok, SITE, "udp", now=32.09)  # within M: still the user's
    assert [type(e) for e in drain_events(layer)] == [ResponseReceived]
    layer.receive(ok, SITE, "udp", now=32.1)  # M has passed: the transaction ended first
    terminated, stray = drain_events(layer)
    assert isinstance(terminated, TransactionTerminated) and terminated.reason == "completed"
    assert isinstance(stray, StrayResponse)


def test_server_non_invite_resends_its_final_response() -> None:
    layer = TransactionLayer()
    req = request()
    layer.receive(req, ("192.0.2.10", 5060), "udp", now=0.0)
    (received,) = drain_events(layer)
    assert isinstance(received, RequestReceived) and received.key is not None
    layer.send_response(make_response(received.request, 200, to_tag="t"), 0.1, received.key)
    assert len(layer.datagrams_to_send()) == 1
    layer.receive(request(), ("192.0.2.10", 5060), "udp", now=0.5)  # retransmission
    assert [o.message.status for o in layer.datagrams_to_send()] == [200]  # type: ignore[union-attr]
    assert drain_events(layer) == []  # the user does not see it twice
    with pytest.raises(
        TransactionStateError, match="server non-INVITE transaction in state Completed"
    ):
        layer.send_response(make_response(received.request, 200), 0.6, received.key)


def test_server_non_invite_retransmission_after_timer_j_is_a_new_request() -> None:
    layer = TransactionLayer()
    layer.receive(request(), ("192.0.2.10", 5060), "udp", now=0.0)
    (received,) = drain_events(layer)
    assert isinstance(received, RequestReceived) and received.key is not None
    layer.send_response(make_response(received.request, 200, to_tag="t"), 0.1, received.key)
    layer.datagrams_to_send()
    assert layer.next_timer() is None  # Timer J (32 s) wakes nobody
    layer.receive(request(), ("192.0.2.10", 5060), "udp", now=32.0)  # within J: absorbed
    assert [o.message.status for o in layer.datagrams_to_send()] == [200]  # type: ignore[union-attr]
    assert drain_events(layer) == []
    layer.receive(request(), ("192.0.2.10", 5060), "udp", now=32.2)  # J has passed
    assert layer.datagrams_to_send() == []
    terminated, again = drain_events(layer)
    assert isinstance(terminated, TransactionTerminated)
    assert isinstance(again, RequestReceived) and again.key == received.key


def test_quiet_states_are_those_whose_one_timer_only_ends_the_transaction() -> None:
    """The states whose timer wakes nobody: each runs that one timer alone, and firing it
    sends nothing and tells the user only that the transaction ended."""
    assert {(k, s.value) for k, s in QUIET} == {
        (Kind.CLIENT_NON_INVITE, "Completed"),  # K
        (Kind.CLIENT_INVITE, "Completed"),  # D
        (Kind.CLIENT_INVITE, "Accepted"),  # M
        (Kind.SERVER_NON_INVITE, "Completed"),  # J
        (Kind.SERVER_INVITE, "Confirmed"),  # I
        (Kind.SERVER_INVITE, "Accepted"),  # L
    }
    for kind, state in QUIET:
        timers = [e for (s, e) in TABLES[kind] if s is state and e.startswith("Timer ")]
        assert len(timers) == 1, (kind, state, timers)


def test_server_invite_retransmits_failure_until_ack() -> None:
    layer = TransactionLayer()
    req = request("INVITE")
    layer.receive(req, ("192.0.2.10", 5060), "udp", now=0.0)
    (received,) = drain_events(layer)
    trying = layer.datagrams_to_send()
    assert [o.message.status for o in trying] == [100]  # type: ignore[union-attr]
    assert received.key is not None  # type: ignore[union-attr]
    layer.send_response(make_response(req, 486, to_tag="t"), 0.0, received.key)  # type: ignore[union-attr]
    sent = run_until(layer, 3.6)
    assert [round(t, 3) for t, _ in sent] == [0.0, 0.5, 1.5, 3.5]  # Timer G
    ack = request("ACK")
    ack.headers.set("CSeq", "1 ACK")
    layer.receive(ack, ("192.0.2.10", 5060), "udp", now=3.6)
    assert run_until(layer, 40.0) == []


def test_received_and_rport_are_stamped() -> None:
    layer = TransactionLayer()
    layer.receive(request(), ("198.51.100.7", 40000), "udp", now=0.0)
    (received,) = drain_events(layer)
    via = received.request.via  # type: ignore[union-attr]
    assert via.param("received") == "198.51.100.7"
    assert via.param("rport") == "40000"


def test_transport_error_gives_a_local_503() -> None:
    layer = TransactionLayer()
    layer.send_request(request(transport="TCP"), SITE, "tcp", now=0.0)
    layer.transport_error(SITE, "tcp", now=0.01)
    first, second = drain_events(layer)
    assert isinstance(first, ResponseReceived) and first.response.status == 503 and first.local
    assert isinstance(second, TransactionTerminated) and second.reason == "transport error"


# --- every (state, input) pair ----------------------------------------------------------
def make(kind: Kind, transport: str = "udp") -> Transaction:
    method = "INVITE" if "INVITE" in kind.value and "non" not in kind.value else "REGISTER"
    return Transaction(kind, ("b", method, "x"), request(method), SITE, transport, TimerConfig())


def stimulus(tx: Transaction, event: Input) -> Request | Response | None:
    status = {
        Input.R1XX: 180,
        Input.R2XX: 200,
        Input.R3XX_6XX: 486,
        Input.TU_1XX: 180,
        Input.TU_2XX: 200,
        Input.TU_3XX_6XX: 486,
    }.get(event)
    if status is not None:
        return make_response(tx.request, status, to_tag="t")
    if event in (Input.REQUEST, Input.ACK):
        return tx.request
    return None


@pytest.mark.parametrize("kind", list(Kind))
def test_every_state_input_pair_is_a_transition_or_a_named_error(kind: Kind) -> None:
    defined = 0
    for state in State:
        for event in Input:
            tx = make(kind)
            tx.state = state
            tx._intervals = dict.fromkeys(Timer, 0.5)
            if (state, event) in TABLES[kind]:
                tx.fire(event, 1.0, stimulus(tx, event))
                assert tx.state is TABLES[kind][(state, event)][0]
                defined += 1
            else:
                with pytest.raises(TransactionStateError) as info:
                    tx.fire(event, 1.0, stimulus(tx, event))
                assert info.value.state == state.value and info.value.event == event.value
                assert tx.state is state  # an error leaves the machine as it was
    assert defined == len(TABLES[kind])


@settings(max_examples=300)
@given(st.sampled_from(list(Kind)), st.lists(st.sampled_from(list(Input)), max_size=25))
def test_random_input_sequences_keep_the_machine_consistent(
    kind: Kind, inputs: list[Input]
) -> None:
    tx = make(kind)
    tx.start(0.0)
    now = 0.0
    terminated_events = 0
    for event in inputs:
        now += 0.1
        before = tx.state
        try:
            tx.fire(event, now, stimulus(tx, event))
        except TransactionStateError:
            assert tx.state is before
            assert (before, event) not in TABLES[kind]
            continue
        assert tx.state is TABLES[kind][(before, event)][0]
        terminated_events = sum(isinstance(e, TransactionTerminated) for e in tx.events)
        if tx.state is State.TERMINATED:
            assert tx.next_timer() is None
    assert terminated_events == (1 if tx.state is State.TERMINATED else 0)
    reachable = {nxt for (nxt, _) in TABLES[kind].values()} | {INITIAL[kind]}
    assert tx.state in reachable


def test_quiet_server_transactions_hold_a_bounded_amount_of_what_peers_wrote() -> None:
    """A flood of large requests, each answered and then held for Timer J: past the
    layer's budget the oldest quiet ones end early (TransactionTerminated as at their
    time); a retransmission of a recent one is still absorbed with the same answer."""
    from endpoint.sip.layer import QUIET_HELD

    layer = TransactionLayer()
    big = "x" * 20_000
    keys = []
    for n in range(600):
        req = request("OPTIONS", branch=f"z9hG4bKflood{n}")
        req.headers.set("Subject", big)
        layer.receive(req, SITE, "udp", now=n * 0.001)
        (received,) = [e for e in drain_events(layer) if isinstance(e, RequestReceived)]
        assert received.key is not None
        keys.append(received.key)
        layer.send_response(make_response(req, 200), now=n * 0.001, key=received.key)
        layer.datagrams_to_send()
    assert layer.quiet_held <= QUIET_HELD
    assert 0 < len(layer.transactions) <= QUIET_HELD // 20_000 + 1
    assert keys[0] not in layer.transactions and keys[-1] in layer.transactions
    again = request("OPTIONS", branch="z9hG4bKflood599")
    again.headers.set("Subject", big)
    layer.receive(again, SITE, "udp", now=0.7)
    (resent,) = layer.datagrams_to_send()
    assert isinstance(resent.message, Response) and resent.message.status == 200
    assert not [e for e in drain_events(layer) if isinstance(e, RequestReceived)]
    layer.handle_timer(100.0)  # quiet ones end when the layer is next used after their time
    assert layer.datagrams_to_send() == []
    assert layer.transactions == {} and layer.quiet_held == 0
