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

from lab.errors import SimulationStalled

T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self, start: float = 0.0) -> None:
        super().__init__()
        self._virtual_now = start

    def time(self) -> float:
        return self._virtual_now

    def _run_once(self) -> None:
        """One iteration: jump the clock to the next timer when nothing is ready, run what
        is due. The selector is polled (without waiting) only when something besides the
        loop's own wake-up pipe is registered: the simulated network has no sockets."""
        ready: Any = self._ready  # type: ignore[attr-defined]
        scheduled: list[Any] = self._scheduled  # type: ignore[attr-defined]
        if self._timer_cancelled_count > max(100, len(scheduled) // 2):  # type: ignore[has-type]
            live = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    live.append(handle)
            heapq.heapify(live)
            scheduled[:] = live
            self._timer_cancelled_count = 0
        while scheduled and scheduled[0]._cancelled:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            self._timer_cancelled_count -= 1
        if not ready:
            if scheduled:
                self._virtual_now = max(self._virtual_now, scheduled[0]._when)
            elif not self._stopping:  # type: ignore[attr-defined]
                raise SimulationStalled("no callback is ready and no timer is set")
        if len(self._selector.get_map()) > 1:  # type: ignore[attr-defined]
            self._process_events(self._selector.select(0))  # type: ignore[attr-defined]
        now = self._virtual_now
        while scheduled and scheduled[0]._when <= now:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            ready.append(handle)
        for _ in range(len(ready)):
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()


def run(coro: Coroutine[Any, Any, T], *, start: float = 0.0) -> T:
    """Like ``asyncio.run``, in virtual time."""
    loop = VirtualTimeLoop(start)
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro)
    finally:
        asyncio.set_event_loop(None)
        loop.close()
