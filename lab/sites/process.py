"""A site that is a local process group: started by PID, signalled as a group."""

from __future__ import annotations

import abc
import asyncio
import signal
import subprocess
from pathlib import Path

from lab.errors import LabError, SiteStartError
from lab.sites.base import Site, SiteSpec
from lab.system.procs import die_with_parent, live_members, signal_group, wait_group_gone


class ProcessSite(Site):
    """Subclasses say how to prepare their folder and which command to run."""

    marker = ""  # a string the command line contains, for clean-up checks

    def __init__(self, spec: SiteSpec, rundir: Path) -> None:
        super().__init__(spec)
        self.rundir = rundir
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = rundir / f"{self.backend}.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @abc.abstractmethod
    def command(self) -> list[str]: ...

    def prepare(self) -> None:
        """Write what the command needs into ``rundir``."""

    async def _launch(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.prepare()
        cmd = self.command()
        with self.log_path.open("ab") as log:
            # Popen, not asyncio's subprocess: the process must outlive any one event loop
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        self.record_pid(self.proc.pid)
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
        if self.proc is not None:
            signal_group(self.proc.pid, sig)

    async def _wait_exit(self, timeout: float) -> bool:
        assert self.proc is not None
        proc = self.proc
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
        except TimeoutError:
            return False
        return True

    async def _terminate(self) -> None:
        """SIGTERM the group, then SIGKILL it if it has not gone within a second."""
        if self.proc is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        if not await self._wait_exit(1.0):
            self._signal(signal.SIGKILL)
            await self._wait_exit(5.0)
        await self._reap_group()

    async def _reap_group(self) -> None:
        """Children can outlive the main process: kill the group until none is left."""
        assert self.proc is not None
        self._signal(signal.SIGKILL)
        if not await wait_group_gone(self.proc.pid, 5.0):
            raise LabError(
                f"site {self.name!r}: processes {live_members(self.proc.pid)} survived SIGKILL"
            )
        self.forget_pid()

    async def _kill(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGKILL)
            await self._wait_exit(5.0)
            await self._reap_group()

    async def _hang(self) -> None:
        self._signal(signal.SIGSTOP)

    async def _resume(self) -> None:
        self._signal(signal.SIGCONT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
