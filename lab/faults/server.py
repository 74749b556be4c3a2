"""Starting geolab's fault proxy server as its own process (so a killed lab runner can be
cleaned up, and so it can serve a manual drill)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.system.net import free_port
from lab.system.procs import die_with_parent, signal_group, wait_group_gone

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
            preexec_fn=die_with_parent,  # noqa: PLW1509
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
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    async def start(self) -> ToxiproxyClient:
        port = free_port(self.host)
        with (self.rundir / "toxiproxy.log").open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                [self.binary, "-host", self.host, "-port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=die_with_parent,  # noqa: PLW1509
            )
        client = ToxiproxyClient(self.host, port, timeout=1.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while True:
            try:
                await client.version()
                return ToxiproxyClient(self.host, port)
            except LabError:
                if loop.time() > deadline or self.proc.poll() is not None:
                    await self.stop()
                    raise LabError(
                        f"toxiproxy-server ({self.binary}) did not start",
                        log=(self.rundir / "toxiproxy.log").read_text(errors="replace"),
                    ) from None
                await asyncio.sleep(0.05)  # polling its API until it listens

    async def stop(self) -> None:
        if self.proc is None:
            return
        signal_group(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 2)
        except TimeoutError:
            signal_group(self.proc.pid, signal.SIGKILL)
        await wait_group_gone(self.proc.pid, 5)
        self.proc = None
