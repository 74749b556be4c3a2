"""Named deadlines for the phone: (owner, name) -> time, with a heap for the earliest."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable

Key = tuple[Hashable, str]


class Deadlines:
    def __init__(self) -> None:
        self._at: dict[Key, float] = {}
        self._heap: list[tuple[float, int, Key]] = []
        self._seq = itertools.count()

    def set(self, owner: Hashable, name: str, when: float) -> None:
        key = (owner, name)
        self._at[key] = when
        heapq.heappush(self._heap, (when, next(self._seq), key))

    def cancel(self, owner: Hashable, name: str | None = None) -> None:
        if name is not None:
            self._at.pop((owner, name), None)
            return
        for key in [k for k in self._at if k[0] == owner]:
            del self._at[key]

    def get(self, owner: Hashable, name: str) -> float | None:
        return self._at.get((owner, name))

    def next(self) -> float | None:
        heap = self._heap
        while heap and self._at.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[Key]:
        """Remove and return every key due at ``now``, earliest first."""
        due = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            if self._at.get(key) == when:
                del self._at[key]
                due.append(key)
        return due
