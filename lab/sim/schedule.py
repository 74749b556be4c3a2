"""The discrete-event engine's clock: virtual time and a heap of callbacks (see
:mod:`lab.sim.engine` for the phones it drives; a :class:`~lab.sim.network.SimNetwork`
is put on one with ``run_on``)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

Callback = tuple[Callable[..., None], tuple[Any, ...]]


class Engine:
    """Virtual time and a heap of callbacks; ``run_until`` runs them in time order (ties in
    the order they were scheduled), so a run is a pure function of its inputs.

    The heap holds each time once, as a float (floats compare faster than the tuples a
    (time, sequence) heap would); the callbacks due at a time wait in a list under it, in
    the order they came. One scheduled for the time being run goes into a new list, run
    after the current one: the order is the same as a (time, sequence) heap's."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[float] = []
        self._due: dict[float, list[Callback]] = {}
        self.steps = 0

    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> None:
        self._push(when, (fn, args))

    def call_later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self._push(self.now + delay, (fn, args))

    def _push(self, when: float, callback: Callback) -> None:
        due = self._due.get(when)
        if due is None:
            self._due[when] = [callback]
            heapq.heappush(self._heap, when)
        else:
            due.append(callback)

    def run_until(self, end: float) -> None:
        heap, dues, pop = self._heap, self._due, heapq.heappop
        steps = 0
        while heap and heap[0] <= end:
            when = pop(heap)
            self.now = when
            for fn, args in dues.pop(when):
                fn(*args)
                steps += 1
        self.steps += steps
        self.now = max(self.now, end)
