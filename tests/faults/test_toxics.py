"""Toxics as functions: what each does to one unit of data."""

from __future__ import annotations

import math

import pytest

from endpoint.sip import make_response, parse_message
from lab.errors import ToxicError
from lab.faults.toxics import LinkState, apply, fault_specs, make_toxic

from ..sip.helpers import request

REGISTER = bytes(request("REGISTER"))
INVITE = bytes(request("INVITE"))
OK = bytes(make_response(request("REGISTER"), 200, to_tag="x"))


def toxic(type: str, protocol: str = "udp", **attributes: object):  # type: ignore[no-untyped-def]
    return make_toxic(
        {"type": type, "attributes": attributes, "stream": "upstream"},
        protocol=protocol,
        seed=42,
        proxy="p",
    )


def run(t, data: bytes = REGISTER, link: LinkState | None = None):  # type: ignore[no-untyped-def]
    return apply([t], data, "upstream", 0.0, link or LinkState(), per_unit_toxicity=True)


def test_latency_with_jitter_stays_in_its_window_and_replays() -> None:
    t = toxic("latency", latency=100, jitter=20)
    delays = [run(t).deliveries[0][0] for _ in range(500)]
    assert all(0.08 <= d <= 0.12 for d in delays)
    assert 0.098 < sum(delays) / len(delays) < 0.102
    again = toxic("latency", latency=100, jitter=20)
    assert [run(again).deliveries[0][0] for _ in range(500)] == delays  # same seed, same run


def test_loss_rate_within_binomial_bound() -> None:
    t = toxic("loss", percent=30)
    n = 2000
    kept = sum(len(run(t).deliveries) for _ in range(n))
    lost = n - kept
    sigma = math.sqrt(n * 0.3 * 0.7)
    assert abs(lost - 0.3 * n) < 4 * sigma


def test_toxicity_applies_to_that_share_of_datagrams() -> None:
    t = make_toxic(
        {"type": "loss", "toxicity": 0.5, "attributes": {"percent": 100}, "stream": "upstream"},
        protocol="udp",
        seed=1,
        proxy="p",
    )
    kept = sum(len(run(t).deliveries) for _ in range(1000))
    assert 400 < kept < 600


def test_timeout_blackholes_and_closes_after_its_timeout() -> None:
    out = run(toxic("timeout", protocol="tcp", timeout=500))
    assert out.deliveries == [] and out.close == "close" and out.close_after == pytest.approx(0.5)
    forever = run(toxic("timeout", protocol="tcp", timeout=0))
    assert forever.deliveries == [] and forever.close is None


def test_limit_data_cuts_and_closes() -> None:
    t, link = toxic("limit_data", protocol="tcp", bytes=100), LinkState()
    first = run(t, b"x" * 60, link)
    second = run(t, b"y" * 60, link)
    assert [len(b) for _, b in first.deliveries] == [60] and first.close is None
    assert [len(b) for _, b in second.deliveries] == [40] and second.close == "close"


def test_slicer_and_bandwidth() -> None:
    sliced = run(
        toxic("slicer", protocol="tcp", average_size=10, size_variation=0, delay=1000), b"z" * 35
    )
    assert [len(b) for _, b in sliced.deliveries] == [10, 10, 10, 5]
    assert [round(d, 6) for d, _ in sliced.deliveries] == [0.0, 0.001, 0.002, 0.003]
    slow = run(toxic("bandwidth", protocol="tcp", rate=1), b"q" * 500)  # 1 KB/s
    assert slow.deliveries[0][0] == pytest.approx(0.5)


def test_sip_drop_only_the_chosen_method() -> None:
    t = toxic("sip_drop", method="REGISTER")
    assert run(t, REGISTER).deliveries == []
    assert len(run(t, INVITE).deliveries) == 1
    assert len(run(t, OK).deliveries) == 1
    by_status = toxic("sip_drop", status=200, cseq_method="REGISTER")
    assert run(by_status, OK).deliveries == [] and len(run(by_status, REGISTER).deliveries) == 1


def test_sip_respond_answers_the_sender() -> None:
    out = run(toxic("sip_respond", method="INVITE", code=503), INVITE)
    assert out.deliveries == [] and out.reply is not None
    reply = parse_message(out.reply)
    assert reply.status == 503 and reply.call_id == request("INVITE").call_id  # type: ignore[union-attr]
    assert run(toxic("sip_respond", method="INVITE"), REGISTER).reply is None


def test_sip_delay_only_matching_messages() -> None:
    t = toxic("sip_delay", status=200, latency=250)
    assert run(t, OK).deliveries[0][0] == pytest.approx(0.25)
    assert run(t, REGISTER).deliveries[0][0] == 0.0


def test_drop_takes_everything_on_its_stream_only() -> None:
    t = toxic("drop")
    assert run(t).deliveries == []
    kept = apply([t], REGISTER, "downstream", 0.0, LinkState(), per_unit_toxicity=True)
    assert kept.deliveries == [(0.0, REGISTER)]
    (one_way,) = fault_specs(3, "partition", {"direction": "from_site"})
    assert (one_way["type"], one_way["stream"], one_way["attributes"]) == (
        "drop", "downstream", {})  # fmt: skip
    assert [s["stream"] for s in fault_specs(3, "partition", {"direction": "to_site"})] == [
        "upstream"]  # fmt: skip


def test_duplicate_sends_a_second_copy_gap_ms_later() -> None:
    out = run(toxic("duplicate", percent=100, gap=5)).deliveries
    assert out == [(0.0, REGISTER), (0.005, REGISTER)]
    t = toxic("duplicate", percent=30)
    twice = sum(len(run(t).deliveries) == 2 for _ in range(2000))
    assert abs(twice - 600) < 4 * math.sqrt(2000 * 0.3 * 0.7)


def test_reorder_holds_some_back_so_later_ones_overtake() -> None:
    t = toxic("reorder", percent=50, delay=30)
    delays = [run(t).deliveries[0][0] for _ in range(1000)]
    assert set(delays) == {0.0, 0.03}
    assert abs(delays.count(0.03) - 500) < 4 * math.sqrt(1000 * 0.25)


def test_burst_loss_comes_in_bursts_at_gilbert_elliott_s_rate() -> None:
    t, link = toxic("burst_loss", p=5, r=50), LinkState()
    lost = [not run(t, link=link).deliveries for _ in range(20000)]
    rate = sum(lost) / len(lost)
    assert abs(rate - 0.05 / 0.55) < 0.02  # the bad state's share: p / (p + r)
    bursts = [n for n in _runs(lost) if n]
    assert 1.6 < sum(bursts) / len(bursts) < 2.4  # mean burst 1 / r = 2 units
    independent = toxic("loss", percent=round(rate * 100))
    alone = [not run(independent).deliveries for _ in range(20000)]
    alone_bursts = [n for n in _runs(alone) if n]
    assert sum(alone_bursts) / len(alone_bursts) < 1.2  # plain loss hardly comes in runs


def _runs(flags: list[bool]) -> list[int]:
    out, n = [], 0
    for f in flags:
        if f:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out


def test_corrupt_flips_bytes_keeping_the_length_seeded() -> None:
    ((_, garbled),) = run(toxic("corrupt", bytes=40)).deliveries
    assert len(garbled) == len(REGISTER) and garbled != REGISTER
    assert sum(a != b for a, b in zip(garbled, REGISTER, strict=True)) <= 40
    again = run(toxic("corrupt", bytes=40)).deliveries[0][1]
    assert again == garbled  # seeded: the same bytes, the same flips


@pytest.mark.parametrize(
    ("spec", "protocol", "message"),
    [
        ({"type": "nope"}, "tcp", "unknown toxic type"),
        ({"type": "loss"}, "tcp", "needs a UDP proxy"),
        ({"type": "reset_peer"}, "udp", "needs a TCP proxy"),
        ({"type": "latency", "stream": "sideways"}, "tcp", "stream must be"),
        ({"type": "latency", "toxicity": 2}, "tcp", "toxicity"),
        ({"type": "latency", "attributes": {"latency": -1}}, "tcp", "non-negative"),
    ],
)
def test_bad_toxics_are_refused(spec: dict[str, object], protocol: str, message: str) -> None:
    with pytest.raises(ToxicError, match=message):
        make_toxic(spec, protocol=protocol, seed=0, proxy="p")
