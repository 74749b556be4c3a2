"""What every driver that runs its endpoint as a process shares: the process started in a
session of its own that the kernel ends with the lab, its log, the wait for it to be
ready, a failure said once (to whatever waits on it, with the log's tail), and stopping it
(its own polite way, then its whole group killed). A driver of that kind subclasses
:class:`EndpointProcess`, says how it is asked to stop (:meth:`ask_to_stop`) and what is
waiting for its answers (:meth:`waiting`), and translates the rest."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lab.drivers.base import DriverContext, kill_endpoint
from lab.drivers.capabilities import Capabilities
from lab.errors import LabError
from lab.system.procs import die_with_parent, file_tail


class EndpointProcess:
    name: str
    capabilities: Capabilities
    default_command: tuple[str, ...] = ()
    log_name = "log"  # what a failure calls its log ("stderr": the process driver's)

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = list(command or self.default_command)
        self.proc: asyncio.subprocess.Process | None = None
        self.ctx: DriverContext | None = None
        self.log_path: Path | None = None
        self.stopping = False
        self.ready: asyncio.Future[Any] | None = None  # set once it says it is ready
        self.exited = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []  # its readers: cancelled when it stops

    def _what(self) -> str:
        return f"endpoint (driver {self.name}: {' '.join(self.command)})"

    def log_tail(self) -> str:
        return file_tail(self.log_path)

    # --- starting -------------------------------------------------------------------------
    async def spawn(self, *args: str, **streams: Any) -> asyncio.subprocess.Process:
        """Start ``command`` with ``args``, in a session of its own (its group is killed
        as one) that ends when the lab's process does; ``streams`` as for asyncio."""
        self.ready = asyncio.get_running_loop().create_future()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.command, *args, start_new_session=True, preexec_fn=die_with_parent,
                **streams,
            )  # fmt: skip
        except OSError as exc:
            raise LabError(f"{self._what()}: cannot start: {exc.strerror or exc}") from None
        return self.proc

    async def until_ready(self, timeout: float, waiting_for: str) -> Any:
        """What it said when ready; else it is killed and the lab error says why, with
        its log."""
        assert self.ready is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self.ready), timeout)
        except TimeoutError:
            await self.kill()
            raise LabError(f"{self._what()} {waiting_for} within {timeout:g}s{self.said()}",
                           log=self.log_tail()) from None  # fmt: skip
        except LabError as exc:
            await self.kill()
            raise LabError(exc.what, log=self.log_tail()) from None

    def said(self) -> str:
        """What it wrote before it failed to get ready (for the lab error), if that helps."""
        return ""

    # --- failing --------------------------------------------------------------------------
    def waiting(self) -> Iterable[asyncio.Future[Any]]:
        """The futures waiting for its answers (each is told when it fails)."""
        return ()

    def fail(self, what: str) -> None:
        """It failed (exited, wrote garbage, closed its port): said to whatever waits on
        it, and to the lab once the drill runs."""
        message = f"{self._what()} {what}"
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(LabError(message))
            return
        tail = self.log_tail()
        for future in self.waiting():
            if not future.done():
                future.set_exception(LabError(message, log=tail or None))
        if self.ctx is not None and not self.stopping:
            said = f"\n--- its {self.log_name} ---\n{tail}" if tail else ""
            self.ctx.on_failure(message + said)

    def ended(self, code: int) -> None:
        """Its process ended with ``code`` (its readers call this)."""
        self.exited.set()
        if not self.stopping:
            self.fail(f"exited (code {code}) while the drill ran")

    # --- stopping -------------------------------------------------------------------------
    async def ask_to_stop(self) -> str | None:
        """Ask it to stop its own way and wait a while; what went wrong, if it did not."""
        return None

    async def stop(self) -> str | None:
        """Its own way first (:meth:`ask_to_stop`), then its whole group killed, whatever
        it left; what went wrong stopping it, if anything."""
        if self.proc is None:
            return None
        self.stopping = True
        problem = await self.ask_to_stop() if self.proc.returncode is None else None
        await self.kill()
        for task in self.tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return problem

    async def kill(self) -> None:
        """SIGKILL its process group, whatever it left (its own children too)."""
        if self.proc is None:
            return
        self.stopping = True
        await kill_endpoint(self.proc)
