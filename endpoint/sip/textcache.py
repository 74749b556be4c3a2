"""What header texts parse to, kept in caches bounded by what they hold.

A phone or a site sees the same values over and over (its own From, its site's Contact),
so the parser keeps what it made of them. Any peer can send any text, though: a cache
bounded only by its number of entries, as ``functools.lru_cache`` is, grows with the size
of what a flood sends (3,000 OPTIONS with 20 KB From headers took an endpoint from 45 to
230 MB) and, filled with merely varied values (tags, branches, sequence numbers), keeps
tens of megabytes it will never use again. Here a text longer than ``longest`` is never
kept, and past ``entries`` the oldest entry goes: the most a cache can hold is
``entries`` values of at most ``longest`` characters, whatever arrives.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class TextCache(Generic[T]):
    """Parsed values by their text: at most ``entries`` of them, each of a text no longer
    than ``longest``; the oldest goes first (a flood of new texts only cycles it)."""

    __slots__ = ("entries", "longest", "values")

    def __init__(self, entries: int, longest: int) -> None:
        self.entries = entries
        self.longest = longest
        self.values: dict[str, T] = {}

    def get(self, text: str) -> T | None:
        return self.values.get(text)

    def put(self, text: str, value: T) -> T:
        """Keep ``value`` for ``text`` where the bounds allow it; ``value`` either way."""
        if len(text) <= self.longest:
            values = self.values
            if len(values) >= self.entries:
                del values[next(iter(values))]
            values[text] = value
        return value

    def clear(self) -> None:
        self.values.clear()

    def __len__(self) -> int:
        return len(self.values)
