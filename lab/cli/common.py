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


# SIGINT and SIGTERM are stop requests, taken in order. While a coroutine runs under
# ``run_async`` a request ends it (its clean-up runs); while ``holding`` (start-up, a run's
# phases between its loops) it is only noted, and ``checkpoint`` raises it where nothing
# can swallow it; elsewhere it raises at once, as Python's own handler would.
_signalled: list[int] = []
_ending: list[Callable[[], None]] = []  # how to end run_async's coroutine, while it runs
_holding: list[bool] = [False]


def stop_requested() -> int | None:
    """The first stop request's signal, or None."""
    return _signalled[0] if _signalled else None


def interruption(signum: int) -> BaseException:
    """What a stop request by ``signum`` raises: Terminated, or KeyboardInterrupt."""
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def request_stop(signum: int, frame: object) -> None:
    """The handler of SIGINT and SIGTERM. An exception raised at any point of a
    coroutine or of an import could land inside a library that swallows it (pydantic's
    schema build printed ``Exception ignored … KeyboardInterrupt`` and the run went on):
    so within ``run_async`` the coroutine is cancelled instead, and while holding the
    request waits for the next checkpoint."""
    _signalled.append(signum)
    if _ending:
        _ending[-1]()
        return
    if not _holding[-1]:
        raise interruption(signum)


def take_signals(*, holding: bool) -> None:
    """From here on SIGTERM is a stop request, and so is SIGINT while ``holding`` (noted
    only, outside ``run_async``); not holding, SIGINT is Python's KeyboardInterrupt again
    (and ``asyncio.run`` cancels its main task on it, as it does by default)."""
    _holding[-1] = holding
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop if holding else signal.default_int_handler)


def hold(on: bool) -> None:
    """Note stop requests (True) or raise them at once (False) outside ``run_async``."""
    take_signals(holding=on)


def checkpoint() -> None:
    """Raise the stop request that came while holding (KeyboardInterrupt or Terminated)."""
    first = stop_requested()
    if first is not None:
        raise interruption(first)


def forget_signals() -> None:
    """No stop request so far (``main`` may run again in the same process)."""
    _signalled.clear()


def run_async(coro: Coroutine[Any, Any, T], *, mode: str = "real") -> T:
    """Run ``coro`` on ``mode``'s clock (``real``: asyncio's loop; ``sim``: virtual
    time); a stop request (SIGINT, SIGTERM) cancels it, so its clean-up runs, and then
    raises KeyboardInterrupt or :class:`Terminated`. A request that came before it
    started ends it at its first step."""

    async def main() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None

        def end_soon() -> None:  # from the signal handler, between any two bytecodes
            loop.call_soon_threadsafe(task.cancel)

        if _signalled:  # asked to stop before anything began
            coro.close()
            raise interruption(_signalled[0])
        _ending.append(end_soon)
        try:
            return await coro
        except asyncio.CancelledError:
            first = stop_requested()
            if first is not None:
                raise interruption(first) from None
            raise
        finally:
            _ending.pop()

    if mode == "sim":
        from lab.run.factory import run_in_mode

        return run_in_mode("sim", main())
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
