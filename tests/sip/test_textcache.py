"""The parser's caches are bounded by what they hold: a flood of large or merely varied
values cannot grow them past their bounds, and a cached value parses as it did."""

from __future__ import annotations

import random
import tracemalloc

import pytest

from endpoint.sip.errors import ParseError
from endpoint.sip.parser import parse_message
from endpoint.sip.textcache import TextCache
from endpoint.sip.uri import URI_CACHE, parse_uri
from endpoint.sip.values import (
    CSEQ_CACHE,
    NAME_ADDR_CACHE,
    VIA_CACHE,
    clear_parse_caches,
    parse_name_addr,
)


def options(n: int, from_user: str) -> bytes:
    tag = f"{n:x}"
    return (
        f"OPTIONS sip:5001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK{n:x}x\r\n"
        f"From: <sip:{from_user}@127.0.0.9>;tag={tag}\r\n"
        f"To: <sip:5001@127.0.0.1>\r\nCall-ID: c{n}\r\nCSeq: {n + 1} OPTIONS\r\n"
        f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def test_the_oldest_entry_goes_and_long_texts_are_never_kept() -> None:
    cache: TextCache[int] = TextCache(3, 5)
    for i, text in enumerate(["a", "b", "c", "d"]):
        assert cache.put(text, i) == i
    assert [cache.get(t) for t in "abcd"] == [None, 1, 2, 3]
    assert cache.put("longer", 9) == 9 and cache.get("longer") is None
    assert len(cache) == 3


def test_a_flood_of_large_unique_headers_leaves_the_caches_as_they_were() -> None:
    clear_parse_caches()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(600):
            big = "u" + "%02x" % (n % 256) + "x" * 20_000 + str(n)
            _ = parse_message(options(n, big)).from_
            parse_name_addr(f"<sip:{big}@h>;tag={n}", "From")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # 600 values of 20 KB each would be 12 MB kept; none of them is
    assert grown < 2_000_000
    assert all(len(k) <= NAME_ADDR_CACHE.longest for k in NAME_ADDR_CACHE.values)
    assert all(len(k) <= URI_CACHE.longest for k in URI_CACHE.values)


def test_varied_small_values_fill_the_caches_to_their_bounds_and_no_further() -> None:
    clear_parse_caches()
    rng = random.Random(3)
    for n in range(3 * NAME_ADDR_CACHE.entries):
        message = parse_message(options(n, f"user{rng.getrandbits(40)}"))
        _ = message.from_, message.via, message.cseq
        parse_name_addr(f"<sip:a{n}@h>;tag={n}", "From")
    assert len(NAME_ADDR_CACHE) == NAME_ADDR_CACHE.entries
    assert len(VIA_CACHE) <= VIA_CACHE.entries
    assert len(CSEQ_CACHE) <= CSEQ_CACHE.entries
    assert len(URI_CACHE) <= URI_CACHE.entries


def test_a_cached_uri_with_headers_is_still_refused_where_headers_are_not_allowed() -> None:
    clear_parse_caches()
    text = "sip:a@example.com?subject=hi"
    assert parse_uri(text).headers == (("subject", "hi"),)  # cached now
    with pytest.raises(ParseError, match="headers are not allowed"):
        parse_uri(text, "Request-URI", allow_headers=False)


def test_a_contact_wildcard_is_never_taken_from_the_cache_for_a_from() -> None:
    clear_parse_caches()
    assert parse_name_addr("*", "Contact").wildcard
    with pytest.raises(ParseError):
        parse_name_addr("*", "From")
    assert parse_name_addr("<sip:a@h>", "From") is parse_name_addr("<sip:a@h>", "To")
