"""Identifiers a UA invents: branches, tags, Call-IDs, cnonces.

Randomness comes in as a :class:`random.Random` so a seeded simulation replays exactly;
real runs pass an instance seeded from the OS.
"""

from __future__ import annotations

import random
import string

from endpoint.sip.layer import MAGIC_COOKIE

_ALPHABET = string.ascii_lowercase + string.digits


class IdSource:
    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random()

    def token(self, length: int = 16) -> str:
        value = self.rng.getrandbits(6 * length)  # 36 symbols need a little over 5 bits each
        out = []
        for _ in range(length):
            value, digit = divmod(value, 36)
            out.append(_ALPHABET[digit])
        return "".join(out)

    def branch(self) -> str:
        return MAGIC_COOKIE + self.token(16)

    def tag(self) -> str:
        return self.token(10)

    def call_id(self, host: str) -> str:
        return f"{self.token(20)}@{host}"

    def cnonce(self) -> str:
        return self.token(16)
