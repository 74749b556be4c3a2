"""What every ``geolab`` command shares: the exit codes, running a coroutine so that
SIGTERM cleans up as Ctrl-C does, and argument types."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from lab.system.net import check_cluster

EXIT_PASS, EXIT_FAILED, EXIT_INVALID, EXIT_LAB_ERROR = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143  # Ctrl-C, SIGTERM: 128 + the signal
T = TypeVar("T")


class Terminated(BaseException):
    """The run was ended by SIGTERM (after its clean-up ran)."""


_ending: list[Callable[[], None]] = []  # how to end run_async's coroutine, while it runs


def raise_terminated(signum: int, frame: object) -> None:
    """SIGTERM outside the event loop (starting, validating, writing reports). While
    ``run_async`` runs, its coroutine is ended as its own handler ends it instead: an
    exception raised at any point of it could land inside a library that swallows it."""
    if _ending:
        _ending[-1]()
        return
    raise Terminated


def catch_sigterm() -> None:
    signal.signal(signal.SIGTERM, raise_terminated)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; SIGTERM cancels it like Ctrl-C does, so its clean-up runs, and then
    raises :class:`Terminated` (Ctrl-C: KeyboardInterrupt, as asyncio.run does)."""

    async def main() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        terminated = asyncio.Event()

        def on_term() -> None:
            terminated.set()
            task.cancel()

        loop.add_signal_handler(signal.SIGTERM, on_term)
        def end_soon() -> None:
            loop.call_soon_threadsafe(on_term)

        _ending.append(end_soon)
        try:
            return await coro
        except asyncio.CancelledError:
            if terminated.is_set():
                raise Terminated from None
            raise
        finally:
            _ending.pop()
            loop.remove_signal_handler(signal.SIGTERM)
            catch_sigterm()  # removing the loop's handler left the default one

    return asyncio.run(main())


def leftovers() -> list[str]:
    """What this process's labs left on the machine (state files, processes)."""
    from lab.system.procs import processes_mentioning
    from lab.system.state import all_states

    left = []
    for state in all_states():
        if state.runner_pid == os.getpid():
            pids = processes_mentioning(state.workdir)
            left.append(f"lab {state.id} ({len(pids)} processes)")
    return left


def positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def cluster_address(text: str) -> str:
    """An argument that names a Dask scheduler: tcp://HOST:PORT."""
    try:
        return check_cluster(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
