"""Identifiers a UA invents: branches, tags, Call-IDs, cnonces.

Randomness comes in as a :class:`random.Random` so a seeded simulation replays exactly;
real runs pass an instance seeded from the OS.
"""

from __future__ import annotations

import random

from endpoint.sip.layer import MAGIC_COOKIE


class IdSource:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()
        self._bits = self.rng.getrandbits  # looked up once: Random's methods are Python's

    def token(self, length: int = 16) -> str:
        """``length`` hex digits (4 random bits each), leading zeros kept."""
        bits = 4 * length
        if length % 2 == 0:  # whole bytes: their hex form has the length asked for
            return self._bits(bits).to_bytes(length // 2, "big").hex()
        return hex(self._bits(bits) | (1 << bits))[3:]  # the bits under a 1, cut off

    def branch(self) -> str:
        return MAGIC_COOKIE + self.token(16)

    def tag(self) -> str:
        return self.token(10)

    def call_id(self, host: str) -> str:
        return f"{self.token(20)}@{host}"

    def cnonce(self) -> str:
        return self.token(16)
