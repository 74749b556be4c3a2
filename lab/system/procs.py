"""Process groups the lab started: starting and ending them (:class:`ProcessGroup`), who
is still alive in them, and waiting for them to go."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For ``preexec_fn``: the kernel kills this child when the process that started it
    dies, even by SIGKILL (Linux ``PR_SET_PDEATHSIG``)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def processes_mentioning(text: str) -> list[int]:
    """PIDs (not zombies) whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot, /proc/PID/stat field 22): with the
    PID it names one process for good, where a PID alone may be reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rfind(")") + 2 :].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def live_members(pgid: int) -> list[int]:
    """PIDs in process group ``pgid`` that are not zombies (read from /proc)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... ; comm may hold spaces and parentheses
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def leads_own_session(pid: int) -> bool:
    """Whether ``pid`` leads a session of its own (``setsid``, as the lab starts every
    process: ``start_new_session``). A job a user started from a shell leads at most a
    process group, inside the shell's session."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rfind(")") + 2 :].split()
        return int(fields[3]) == pid and fields[0] != "Z"
    except (OSError, IndexError, ValueError):
        return False


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


async def wait_group_gone(pgid: int, timeout: float) -> bool:
    """Poll /proc until no live member of ``pgid`` remains; False on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while live_members(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)  # polling /proc: there is no event for "group empty"
    return True


class ProcessGroup:
    """A process the lab starts in a group of its own (``start_new_session``), which the
    kernel kills if the lab dies (:func:`die_with_parent`); signalled and ended as a
    group, so no child outlives it. ``subprocess.Popen``, not asyncio's: the process must
    outlive any one event loop."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    @classmethod
    def launch(cls, cmd: list[str], log: Path, *, stdout_pipe: bool = False) -> ProcessGroup:
        """Start ``cmd``; its output goes to ``log`` (stdout to a pipe if asked)."""
        with log.open("ab") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE if stdout_pipe else out,
                stderr=out if stdout_pipe else subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        signal_group(self.proc.pid, sig)

    async def wait_exit(self, timeout: float) -> bool:
        """Until the main process exits (False: still running after ``timeout``)."""
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), timeout)
        except TimeoutError:
            return False
        return True

    async def reap(self, timeout: float = 5.0) -> bool:
        """SIGKILL the group until no member is left (False: some survived)."""
        self.signal(signal.SIGKILL)
        return await wait_group_gone(self.proc.pid, timeout)

    async def end(self, grace: float = 1.0) -> bool:
        """SIGTERM (a stopped group is continued first), SIGKILL after ``grace`` s, then
        reap the group; closes the stdout pipe. False: members survived SIGKILL."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if not await self.wait_exit(grace):
            self.signal(signal.SIGKILL)
            await self.wait_exit(5.0)
        gone = await self.reap()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return gone


def file_tail(path: Path | None, lines: int = 15) -> str:
    """The last ``lines`` of a process's log file ("" when there is none or it cannot be
    read): what a lab error shows of it."""
    if path is None:
        return ""
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
