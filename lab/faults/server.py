"""Starting geolab's fault proxy server as its own process (so a killed lab runner can be
cleaned up, and so it can serve a manual drill)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.system.net import free_port
from lab.system.procs import ProcessGroup

MARKER = "lab.faults"


class FaultServerProcess:
    def __init__(self, host: str, rundir: Path, *, seed: int = 0) -> None:
        self.host = host
        self.rundir = rundir
        self.seed = seed
        self.group: ProcessGroup | None = None
        self.client: ToxiproxyClient | None = None

    @property
    def pid(self) -> int | None:
        return self.group.pid if self.group else None

    async def start(self) -> ToxiproxyClient:
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.group = ProcessGroup.launch(
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
            self.rundir / "faults.log",
            stdout_pipe=True,
        )
        stdout = self.group.proc.stdout
        assert stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), 10)
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
        if self.group is not None:
            await self.group.end(grace=2.0)
            self.group = None


def toxiproxy_server_binary() -> str | None:
    """A real ``toxiproxy-server`` (GEOLAB_TOXIPROXY_SERVER, or on PATH), if any."""
    configured = os.environ.get("GEOLAB_TOXIPROXY_SERVER")
    if configured is not None:
        return configured or None
    return shutil.which("toxiproxy-server")


class ToxiproxyServerProcess:
    """A real Toxiproxy server for the TCP proxies, when one is installed."""

    def __init__(self, binary: str, host: str, rundir: Path) -> None:
        self.binary = binary
        self.host = host
        self.rundir = rundir
        self.group: ProcessGroup | None = None

    @property
    def pid(self) -> int | None:
        return self.group.pid if self.group else None

    async def start(self) -> ToxiproxyClient:
        port = free_port(self.host)
        group = self.group = ProcessGroup.launch(
            [self.binary, "-host", self.host, "-port", str(port)], self.rundir / "toxiproxy.log"
        )
        client = ToxiproxyClient(self.host, port, timeout=1.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                await client.version()
                return ToxiproxyClient(self.host, port)
            except LabError:
                if loop.time() > deadline or group.proc.poll() is not None:
                    await self.stop()
                    raise LabError(
                        f"toxiproxy-server ({self.binary}) did not start",
                        log=(self.rundir / "toxiproxy.log").read_text(errors="replace"),
                    ) from None
                await asyncio.sleep(0.05)  # polling its API until it listens

    async def stop(self) -> None:
        if self.group is not None:
            await self.group.end(grace=2.0)
            self.group = None
