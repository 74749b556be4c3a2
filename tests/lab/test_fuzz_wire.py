"""A few thousand seeded fuzzed datagrams at the endpoint, the fault proxy and a site:
all still answer, the endpoint stays registered, and memory stays flat (the benchmark,
``geolab bench fuzz``, sends 10^5)."""

from __future__ import annotations

import asyncio

import pytest

from bench.fuzz import fuzz
from endpoint.sip.layer import QUIET_HELD

pytestmark = pytest.mark.interop


def test_the_lab_and_the_endpoint_survive_fuzzed_datagrams() -> None:
    result = asyncio.run(fuzz(3000, seed=7))
    assert result.endpoint_answers and result.proxy_answers and result.site_answers
    assert result.still_registered
    for before, after in (result.site_rss_kb, result.proxy_rss_kb, result.endpoint_rss_kb):
        assert after - before < 20 * 1024  # kB: flat, not one allocation per datagram kept
    # the well-formed OPTIONS among them (an eighth, a fourth of them 20 KB large) are
    # answered and held for Timer J, within what quiet transactions may hold
    assert result.endpoint_sessions <= 16 and result.endpoint_transactions < 400
    assert 0 < result.endpoint_held <= QUIET_HELD
