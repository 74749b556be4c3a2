"""The one place that knows the real lab from the simulated one: it builds the lab of a
mode, and runs a coroutine on that mode's clock (the system's, or virtual time)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from lab.labs.interface import LabConfig, LabInterface
from lab.net.wire import Wire
from lab.real.lab import Lab
from lab.sim.lab import SimLab
from lab.sim.loop import run as run_virtual

T = TypeVar("T")
MODES = ("real", "sim")


def make_lab(config: LabConfig, mode: str = "real", *, wire: Wire = "bytes") -> LabInterface:
    """A lab of ``mode``: real sites (``config.backend``) or the simulated ones. ``wire``
    is how simulated messages cross (bytes, or objects for a fleet)."""
    if mode == "sim":
        return SimLab(config, wire=wire)
    if mode != "real":
        raise ValueError(f"mode {mode!r}: not one of {', '.join(MODES)}")
    return Lab(config)


def run_in_mode(mode: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on ``mode``'s clock: the system's (``asyncio.run``) or
    virtual time, where an hour of timers takes milliseconds."""
    if mode == "sim":
        return run_virtual(coro)
    return asyncio.run(coro)
