"""Identifiers from a seed: the same seed gives the same branches, tags and Call-IDs, each
the hex form of the seed's next bits, leading zeros kept."""

from __future__ import annotations

import random

import pytest

from endpoint.sip.ids import IdSource
from endpoint.sip.layer import MAGIC_COOKIE


@pytest.mark.parametrize("length", [1, 3, 10, 16, 20, 24])
def test_a_token_is_the_hex_form_of_the_seed_s_next_bits(length: int) -> None:
    ids, bits = IdSource(random.Random(11)), random.Random(11)
    for _ in range(500):  # some draws have leading zero digits
        token = ids.token(length)
        assert token == format(bits.getrandbits(4 * length), f"0{length}x")
        assert len(token) == length


def test_the_same_seed_gives_the_same_identifiers() -> None:
    a, b = IdSource(random.Random(3)), IdSource(random.Random(3))
    drawn = [(a.branch(), a.tag(), a.call_id("h"), a.cnonce()) for _ in range(50)]
    assert drawn == [(b.branch(), b.tag(), b.call_id("h"), b.cnonce()) for _ in range(50)]
    branch, tag, call_id, _ = drawn[0]
    assert branch.startswith(MAGIC_COOKIE) and len(branch) == len(MAGIC_COOKIE) + 16
    assert len(tag) == 10 and call_id.endswith("@h") and len(call_id) == 22
