"""RFC 3263's resolution in the core, on recorded answers: the order of NAPTR, SRV and A,
SRV priorities and weights (RFC 2782), what falls through to the next kind and what ends
the resolution, and the TTL the targets are good for."""

from __future__ import annotations

import collections
import random

import pytest

from endpoint.core.rfc3263 import (
    NOERROR,
    NXDOMAIN,
    SERVFAIL,
    TIMEOUT,
    A,
    DnsAnswer,
    DnsQuery,
    Naptr,
    Record,
    Resolution,
    Srv,
    srv_order,
)

Zone = dict[tuple[str, str], DnsAnswer]


def resolve(zone: Zone, transport: str = "udp", *, naptr: bool = True, seed: int = 1,
            now: float = 100.0) -> tuple[Resolution, list[DnsQuery]]:  # fmt: skip
    """Every question answered from ``zone`` (missing: NXDOMAIN), in the order asked."""
    res = Resolution("sip.example.test", transport, 5070, rng=random.Random(seed), next_id=1,
                     naptr=naptr)  # fmt: skip
    asked: list[DnsQuery] = []
    queue = res.start()
    while queue:
        query = queue.pop(0)
        asked.append(query)
        queue += res.answer(query.id, zone.get((query.name, query.rtype), DnsAnswer(NXDOMAIN)),
                            now)  # fmt: skip
    assert res.done
    return res, asked


def ok(*records: Record) -> DnsAnswer:
    return DnsAnswer(NOERROR, records)


BASE: Zone = {
    ("sip.example.test", "NAPTR"): ok(
        Naptr(20, 10, "s", "SIP+D2T", "_sip._tcp.sip.example.test.", 300),
        Naptr(10, 10, "s", "SIP+D2U", "_sip._udp.sip.example.test.", 60),
    ),
    ("_sip._udp.sip.example.test", "SRV"): ok(
        Srv(20, 1, 5080, "b.example.test.", 120), Srv(10, 1, 5060, "a.example.test.", 30),
    ),
    ("_sip._tcp.sip.example.test", "SRV"): ok(Srv(10, 1, 5061, "t.example.test.", 300)),
    ("a.example.test", "A"): ok(A("192.0.2.1", 45)),
    ("b.example.test", "A"): ok(A("192.0.2.2", 50), A("192.0.2.3", 50)),
    ("t.example.test", "A"): ok(A("192.0.2.9", 300)),
}


def test_naptr_then_srv_by_priority_then_each_target_s_addresses() -> None:
    res, asked = resolve(BASE)
    assert [(q.name, q.rtype) for q in asked] == [
        ("sip.example.test", "NAPTR"), ("_sip._udp.sip.example.test", "SRV"),
        ("a.example.test", "A"), ("b.example.test", "A"),
    ]  # fmt: skip
    assert res.targets == [("192.0.2.1", 5060), ("192.0.2.2", 5080), ("192.0.2.3", 5080)]
    assert res.error is None
    assert res.expires == 100.0 + 30  # the smallest TTL on the way (the primary's SRV)


def test_the_transport_picks_the_naptr_service() -> None:
    res, _ = resolve(BASE, "tcp")
    assert res.targets == [("192.0.2.9", 5061)]


def test_no_naptr_for_the_transport_asks_its_own_srv_name() -> None:
    zone = {**BASE, ("sip.example.test", "NAPTR"): ok(
        Naptr(10, 10, "s", "SIP+D2T", "_sip._tcp.sip.example.test.", 60))}  # fmt: skip
    res, asked = resolve(zone, "udp")
    assert asked[1].name == "_sip._udp.sip.example.test"
    assert res.targets[0] == ("192.0.2.1", 5060)


def test_no_srv_falls_back_to_the_name_s_addresses_at_the_connection_s_port() -> None:
    zone: Zone = {("sip.example.test", "A"): ok(A("192.0.2.7", 10))}
    res, asked = resolve(zone)
    assert [q.rtype for q in asked] == ["NAPTR", "SRV", "A"]
    assert res.targets == [("192.0.2.7", 5070)]
    assert res.expires == 110.0


def test_a_name_with_nothing_ends_with_nxdomain_and_no_target() -> None:
    res, _ = resolve({})
    assert res.targets == [] and res.error == "DNS sip.example.test: NXDOMAIN"


@pytest.mark.parametrize("rcode", [SERVFAIL, TIMEOUT])
def test_a_failing_server_ends_the_resolution_at_once(rcode: str) -> None:
    zone = {**BASE, ("_sip._udp.sip.example.test", "SRV"): DnsAnswer(rcode)}
    res, asked = resolve(zone)
    assert len(asked) == 2  # nothing asked after the failure
    assert res.targets == []
    assert res.error == ("DNS SRV _sip._udp.sip.example.test: "
                         + ("no answer" if rcode == TIMEOUT else "SERVFAIL"))  # fmt: skip


def test_the_system_s_resolver_asks_only_the_name_s_addresses() -> None:
    res, asked = resolve(BASE | {("sip.example.test", "A"): ok(A("192.0.2.5", 60))}, naptr=False)
    assert [(q.name, q.rtype) for q in asked] == [("sip.example.test", "A")]
    assert res.targets == [("192.0.2.5", 5070)]


def test_late_or_foreign_answers_change_nothing() -> None:
    res = Resolution("sip.example.test", "udp", 5060, rng=random.Random(1), next_id=1)
    first, = res.start()
    assert res.answer(999, DnsAnswer(SERVFAIL), 0.0) == [] and not res.done
    res.answer(first.id, DnsAnswer(SERVFAIL), 0.0)
    assert res.done and res.answer(first.id, ok(), 0.0) == []


def test_srv_weights_share_the_first_place_in_proportion() -> None:
    """RFC 2782's selection: within one priority, a number drawn from 0 to the sum of the
    weights (both included) picks the first record whose running sum reaches it, weight-0
    records placed first: here 0 picks zero, 1 light, 2-4 heavy (3/5, 1/5, 1/5); a lower
    priority always comes first."""
    records = [Srv(10, 3, 1, "heavy.", 60), Srv(10, 1, 1, "light.", 60),
               Srv(10, 0, 1, "zero.", 60), Srv(5, 1, 1, "primary.", 60)]  # fmt: skip
    rng = random.Random(3)
    firsts: collections.Counter[str] = collections.Counter()
    for _ in range(4000):
        order = [r.target for r in srv_order(records, rng)]
        assert order[0] == "primary." and sorted(order) == sorted(r.target for r in records)
        firsts[order[1]] += 1
    assert 0.56 < firsts["heavy."] / 4000 < 0.64
    assert 0.17 < firsts["light."] / 4000 < 0.23
    assert 0.17 < firsts["zero."] / 4000 < 0.23
