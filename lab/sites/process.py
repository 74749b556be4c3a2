"""A site that is a local process group: started by PID, signalled as a group."""

from __future__ import annotations

import abc
import asyncio
import signal
from pathlib import Path

from lab.errors import LabError, SiteStartError
from lab.sites.base import Site, SiteSpec
from lab.system.procs import ProcessGroup, file_tail, live_members


class ProcessSite(Site):
    """Subclasses say how to prepare their folder and which command to run."""

    marker = ""  # a string the command line contains, for clean-up checks

    def __init__(self, spec: SiteSpec, rundir: Path) -> None:
        super().__init__(spec)
        self.rundir = rundir
        self.group: ProcessGroup | None = None
        self.log_path = rundir / f"{self.backend}.log"

    @property
    def pid(self) -> int | None:
        return self.group.pid if self.group is not None else None

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    def prepare(self) -> None:
        """Write what the command needs into ``rundir``."""

    async def _launch(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        cmd = self.command()
        self.group = ProcessGroup.launch(cmd, self.log_path)
        self.record_pid(self.group.pid)
        try:
            await self.wait_ready(timeout=10.0)
        except BaseException as exc:
            await asyncio.shield(self._terminate())
            if not isinstance(exc, TimeoutError):
                raise
            raise SiteStartError(
                f"site {self.name!r} ({self.backend}) did not answer OPTIONS on "
                f"{self.spec.ip}:{self.spec.port}: {exc}\ncommand: {' '.join(cmd)}",
                log=self.log_tail(),
                hint=f"see {self.log_path}",
            ) from None

    def _signal(self, sig: int) -> None:
        if self.group is not None:
            self.group.signal(sig)

    async def _terminate(self) -> None:
        """SIGTERM the group, then SIGKILL it if it has not gone within a second."""
        if self.group is not None:
            self._check_gone(await self.group.end(grace=1.0))

    async def _kill(self) -> None:
        if self.group is not None:
            self.group.signal(signal.SIGKILL)
            await self.group.wait_exit(5.0)
            self._check_gone(await self.group.reap())

    def _check_gone(self, gone: bool) -> None:
        """Children can outlive the main process: none may survive the group's end."""
        assert self.group is not None
        if not gone:
            raise LabError(
                f"site {self.name!r}: processes {live_members(self.group.pid)} survived SIGKILL"
            )
        self.forget_pid()

    async def _hang(self) -> None:
        self._signal(signal.SIGSTOP)

    async def _resume(self) -> None:
        self._signal(signal.SIGCONT)

    def log_tail(self, lines: int = 30) -> str:
        return file_tail(self.log_path, lines)
