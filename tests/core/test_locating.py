"""A connection named by host name, in the phone's core: where its questions lead, the
next target on a timeout or a 503 (RFC 3263 §4.3), the TTL its targets are kept for, and a
name that finds nothing as a site that is down; each beside the mutant that gets it wrong."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatus
from endpoint.core.rfc3263 import NOERROR, NXDOMAIN, A, DnsAnswer, DnsQuery, Naptr, Srv
from endpoint.sip.events import Address

from .harness import Harness, MiniSite

SA: Address = ("10.0.1.1", 5060)
SB: Address = ("10.0.2.1", 5080)
NAME = "sip.example.test"


class Zone:
    """The answers of a DNS server: NAME's SRV records lead to a.example.test (priority 10)
    and b.example.test (20), with ``ttl``; ``lead`` may be changed to flip them."""

    def __init__(self, ttl: int = 300) -> None:
        self.ttl = ttl
        self.lead = {"a.example.test": SA, "b.example.test": SB}
        self.srv = [(10, "a.example.test"), (20, "b.example.test")]
        self.gone = False  # NXDOMAIN for everything

    def __call__(self, q: DnsQuery) -> DnsAnswer:
        if self.gone:
            return DnsAnswer(NXDOMAIN)
        if (q.name, q.rtype) == (NAME, "NAPTR"):
            naptr = Naptr(10, 10, "s", "SIP+D2U", f"_sip._udp.{NAME}.", self.ttl)
            return DnsAnswer(NOERROR, (naptr,))
        if (q.name, q.rtype) == (f"_sip._udp.{NAME}", "SRV"):
            return DnsAnswer(NOERROR, tuple(Srv(p, 1, self.lead[h][1], h + ".", self.ttl)
                                            for p, h in self.srv))  # fmt: skip
        if q.rtype == "A" and q.name in self.lead:
            return DnsAnswer(NOERROR, (A(self.lead[q.name][0], self.ttl),))
        return DnsAnswer(NXDOMAIN)


def named(mutant: str | None = None, **settings: object) -> EndpointConfig:
    conn = ConnectionConfig(id=0, user="5001", server=NAME, port=5060,
                            **{"transaction_timeout": 2.0, "retry_interval": 5.0, **settings})  # type: ignore[arg-type]  # fmt: skip
    return EndpointConfig(connections=[conn], dns_server="10.0.0.53", mutant=mutant)


def harness(
    config: EndpointConfig, zone: Callable[[DnsQuery], DnsAnswer | None], a: MiniSite, b: MiniSite
) -> Harness:
    h = Harness(config, [a, b], start=False)
    h.dns = zone
    h.phone.start(h.now)
    h.pump()
    return h


def registers(h: Harness) -> list[tuple[float, Address]]:
    return [(t, dest) for t, dest, m in h.sent if m.cseq.method == "REGISTER"]


def test_the_name_s_questions_go_naptr_srv_a_and_the_register_to_the_primary() -> None:
    a, b = MiniSite(SA), MiniSite(SB)
    h = harness(named(), Zone(), a, b)
    h.run(1)
    assert [(q.name, q.rtype) for _, q in h.asked] == [
        (NAME, "NAPTR"), (f"_sip._udp.{NAME}", "SRV"), ("a.example.test", "A"),
        ("b.example.test", "A")]  # fmt: skip
    assert [dest for _, dest in registers(h)] == [SA]
    assert h.statuses(0) == ["Registering", "Available"]
    assert h.sent[0][2].uri.host == NAME  # type: ignore[union-attr]  # the AOR's domain


@pytest.mark.parametrize("mutant", [None, "stays_on_first_target"])
def test_a_silent_primary_is_left_for_the_next_target_after_one_transaction_timeout(
    mutant: str | None,
) -> None:
    a, b = MiniSite(SA, mode="silent"), MiniSite(SB)
    h = harness(named(mutant), Zone(), a, b)
    h.run(4)
    sent = registers(h)
    to_b = [t for t, dest in sent if dest == SB]
    if mutant:
        assert not to_b and h.statuses(0) == ["Registering", "Unavailable"]
        return
    assert to_b and 2.0 <= to_b[0] < 2.1  # Timer F (64·T1 = 2 s), then at once
    assert h.statuses(0) == ["Registering", "Available"]  # the name was reachable


def test_a_503_moves_on_at_once_and_all_failing_is_unavailable_then_from_the_top() -> None:
    a, b = MiniSite(SA, mode="refuse"), MiniSite(SB, mode="refuse")
    h = harness(named(), Zone(), a, b)
    h.run(1)
    assert [dest for _, dest in registers(h)] == [SA, SB]
    assert h.statuses(0) == ["Registering", "Unavailable"]
    a.mode = "up"
    h.run(6)  # the retry, retry_interval later, starts again from the first target
    assert [dest for _, dest in registers(h)] == [SA, SB, SA]
    assert h.statuses(0)[-1] == "Available"


@pytest.mark.parametrize("mutant", [None, "ignores_ttl"])
def test_records_are_asked_again_once_their_ttl_is_out_and_a_flip_is_followed(
    mutant: str | None,
) -> None:
    zone = Zone(ttl=10)
    a, b = MiniSite(SA), MiniSite(SB)
    h = harness(named(mutant, reg_interval=4.0), zone, a, b)
    h.run(1)
    zone.lead["a.example.test"] = SB  # the name flipped to site B
    h.run(9.5)  # renewals at 4 and 8: the records still hold
    assert {dest for _, dest in registers(h)} == {SA}
    asked = len(h.asked)
    h.run(13)  # the renewal at 12 finds them expired
    if mutant:
        assert len(h.asked) == asked and registers(h)[-1][1] == SA
        return
    assert len(h.asked) > asked and registers(h)[-1][1] == SB


def test_a_name_that_does_not_resolve_is_a_site_that_is_down_retried_at_its_interval() -> None:
    zone = Zone()
    zone.gone = True
    h = harness(named(), zone, MiniSite(SA), MiniSite(SB))
    h.run(1)
    events = [e for e in h.conn_events() if e.status is ConnectionStatus.UNAVAILABLE]
    assert [(e.code, e.reason) for e in events] == [(None, f"DNS {NAME}: NXDOMAIN")]
    assert registers(h) == []
    asked = len(h.asked)
    zone.gone = False
    h.run(7)  # retried after retry_interval: asked again, registered
    assert len(h.asked) > asked and h.statuses(0)[-1] == "Available"


def test_a_silent_dns_server_is_unavailable_after_its_timeout() -> None:
    h = harness(named(), lambda q: None, MiniSite(SA), MiniSite(SB))  # never answers
    h.run(1.9)
    assert h.statuses(0) == ["Registering"]
    h.run(2.1)  # dns_timeout 2 s
    (event,) = [e for e in h.conn_events() if e.status is ConnectionStatus.UNAVAILABLE]
    assert event.reason == f"DNS NAPTR {NAME}: no answer"


def test_answers_for_a_removed_connection_are_dropped() -> None:
    h = harness(named(), Zone(), MiniSite(SA), MiniSite(SB))
    h.phone.remove_connection(0, h.now)  # before any answer came
    h.pump()
    h.run(1)
    assert registers(h) == [] and len(h.asked) == 1


def test_disabled_while_its_name_is_asked_then_enabled_it_asks_again_and_registers() -> None:
    h = harness(named(), lambda q: None, MiniSite(SA), MiniSite(SB))  # the first never answered
    h.phone.disable_connection(0, h.now)
    h.pump()
    h.dns = Zone()
    h.phone.enable_connection(0, h.now)
    h.pump()
    h.run(3)  # the old question's timeout (2 s) changes nothing
    assert [dest for _, dest in registers(h)] == [SA]
    assert h.statuses(0)[-1] == "Available" and len(h.asked) == 5
