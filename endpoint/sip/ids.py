"""Identifiers a UA invents: branches, tags, Call-IDs, cnonces.

Randomness comes in as a :class:`random.Random` so a seeded simulation replays exactly;
real runs pass an instance seeded from the OS.
"""

from __future__ import annotations

import random

from endpoint.sip.layer import MAGIC_COOKIE

_FORMATS = {n: f"%0{n}x" for n in (10, 16, 20, 24)}


class IdSource:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()

    def token(self, length: int = 16) -> str:
        """``length`` hex digits (4 random bits each)."""
        fmt = _FORMATS.get(length) or f"%0{length}x"
        return fmt % self.rng.getrandbits(4 * length)

    def branch(self) -> str:
        return MAGIC_COOKIE + self.token(16)

    def tag(self) -> str:
        return self.token(10)

    def call_id(self, host: str) -> str:
        return f"{self.token(20)}@{host}"

    def cnonce(self) -> str:
        return self.token(16)
