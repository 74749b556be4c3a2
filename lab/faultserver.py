"""Starting geolab's fault proxy server as its own process (so a killed lab runner can be
cleaned up, and so it can serve a manual drill)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.procs import signal_group, wait_group_gone

MARKER = "lab.faults"


class FaultServerProcess:
    def __init__(self, host: str, rundir: Path, *, seed: int = 0) -> None:
        self.host = host
        self.rundir = rundir
        self.seed = seed
        self.proc: subprocess.Popen[bytes] | None = None
        self.client: ToxiproxyClient | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> ToxiproxyClient:
        self.rundir.mkdir(parents=True, exist_ok=True)
        log = (self.rundir / "faults.log").open("ab")
        # Popen, not asyncio's subprocess: it must outlive any one event loop
        self.proc = subprocess.Popen(  # noqa: ASYNC220
            [
                sys.executable,
                "-m",
                MARKER,
                "--api",
                f"{self.host}:0",
                "--seed",
                str(self.seed),
                "--lab-dir",
                str(self.rundir),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), 10)
            api = json.loads(line)["api"]
        except (TimeoutError, ValueError, KeyError) as exc:
            await self.stop()
            raise LabError(
                f"the fault proxy did not start: {exc!r}",
                log=(self.rundir / "faults.log").read_text(errors="replace")[-2000:],
            ) from None
        host, _, port = api.rpartition(":")
        self.client = ToxiproxyClient(host, int(port))
        return self.client

    async def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        signal_group(pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 2)
        except TimeoutError:
            signal_group(pid, signal.SIGKILL)
        await wait_group_gone(pid, 5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None
