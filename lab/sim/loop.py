"""An asyncio event loop whose clock is virtual: when nothing is ready to run, time jumps to
the next timer. Code that asks the loop for the time (``loop.time()``, ``asyncio.sleep``,
``call_later``, timeouts) runs unchanged, an hour in milliseconds. Real I/O has no place
here: the simulated network delivers through the loop's timers.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class SimulationStalled(RuntimeError):
    """Nothing is ready and no timer is left: the simulation waits for what never comes."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._virtual_now = start

    def time(self) -> float:
        return self._virtual_now

    def _run_once(self) -> None:
        ready: Any = self._ready  # type: ignore[attr-defined]
        scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
        if not ready:
            while scheduled and scheduled[0]._cancelled:
                handle = heapq.heappop(scheduled)
                handle._scheduled = False
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            if scheduled:
                self._virtual_now = max(self._virtual_now, scheduled[0]._when)
            elif not self._stopping:  # type: ignore[attr-defined]
                raise SimulationStalled("no callback is ready and no timer is set")
        super()._run_once()  # type: ignore[misc]


def run(coro: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Like ``asyncio.run``, in virtual time."""
    loop = VirtualTimeLoop(start)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
