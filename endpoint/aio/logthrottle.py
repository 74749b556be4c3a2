"""Bounded logging of what peers make us drop: a flood of malformed datagrams must not
become a flood of log lines. At most ``burst`` records of one kind (one format string of
one logger) are let through per ``window`` seconds, timed by the records' own time; the
next record let through says how many were held back before it."""

from __future__ import annotations

import logging

# the loggers that tell of each message dropped or connection closed for what a peer sent
DROP_LOGGERS = ("endpoint.phone", "endpoint.transport", "lab.site")


class Throttle(logging.Filter):
    def __init__(self, burst: int = 10, window: float = 10.0) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.kinds: dict[str, list[float]] = {}  # format -> [window start, let through, held]

    def filter(self, record: logging.LogRecord) -> bool:
        key = str(record.msg)
        state = self.kinds.get(key)
        if state is None or record.created - state[0] >= self.window:
            held = int(state[2]) if state is not None else 0
            if len(self.kinds) > 256:  # (formats are the code's own: a handful)
                self.kinds.clear()
            self.kinds[key] = [record.created, 1, 0]
            if held:
                record.msg = f"{record.msg} (and %d more like it not logged)"
                record.args = (*(record.args if isinstance(record.args, tuple) else ()), held)
            return True
        if state[1] < self.burst:
            state[1] += 1
            return True
        state[2] += 1
        return False


def throttle_drops(burst: int = 10, window: float = 10.0) -> None:
    """Put one :class:`Throttle` on each logger of :data:`DROP_LOGGERS` (once)."""
    for name in DROP_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, Throttle) for f in logger.filters):
            logger.addFilter(Throttle(burst, window))
