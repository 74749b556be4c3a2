"""Running SIPp (Debian package ``sip-tester``) as a remote party or load generator."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

from lab.errors import LabError

SCENARIOS = Path(__file__).with_name("sipp")


def sipp_binary() -> str | None:
    return shutil.which("sipp")


@dataclass(frozen=True, slots=True)
class SippResult:
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


async def run_sipp(args: list[str], *, timeout: float, cwd: Path | None = None) -> SippResult:
    """Run SIPp to completion in its own process group; kill the group on timeout/cancel."""
    binary = sipp_binary()
    if binary is None:
        raise LabError("sipp is not installed", hint="apt-get install -y sip-tester")
    loop = asyncio.get_running_loop()
    start = loop.time()
    proc = await asyncio.create_subprocess_exec(
        binary, *args, "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL, cwd=cwd, start_new_session=True,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout + 5)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        raise
    return SippResult(
        returncode=proc.returncode or 0,
        seconds=loop.time() - start,
        output=out.decode(errors="replace"),
    )
