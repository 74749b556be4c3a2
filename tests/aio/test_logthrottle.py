"""Dropped messages are logged at a bounded rate: a flood of malformed datagrams gives a
few lines per window and then a count of what was held back."""

from __future__ import annotations

import logging

import pytest

from endpoint.aio.logthrottle import DROP_LOGGERS, Throttle
from endpoint.aio.transport import read_datagram


def test_a_flood_is_cut_to_the_burst_and_the_next_window_says_how_many_were_held() -> None:
    throttle = Throttle(burst=3, window=10.0)
    logger = logging.Logger("t")

    def record(at: float, n: int) -> logging.LogRecord:
        r = logger.makeRecord("t", logging.WARNING, __file__, 1, "dropped %s", (n,), None)
        r.created = at
        return r

    passed = [throttle.filter(record(100.0 + i * 0.01, i)) for i in range(50)]
    assert passed == [True] * 3 + [False] * 47
    later = record(111.0, 99)
    assert throttle.filter(later)
    assert later.getMessage() == "dropped 99 (and 47 more like it not logged)"
    assert throttle.filter(record(111.5, 100))  # a new window's burst


def test_the_endpoint_s_dropped_datagrams_are_throttled(caplog: pytest.LogCaptureFixture) -> None:
    assert all(
        any(isinstance(f, Throttle) for f in logging.getLogger(n).filters) for n in DROP_LOGGERS
    )
    with caplog.at_level(logging.WARNING, logger="endpoint.transport"):
        for i in range(1000):
            assert read_datagram(b"GARBAGE %d\r\n\r\n" % i, ("127.0.0.9", 5060)) is None
    dropped = [r for r in caplog.records if "dropped malformed datagram" in r.getMessage()]
    assert 1 <= len(dropped) <= 10
