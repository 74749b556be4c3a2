"""Running SIPp (Debian package ``sip-tester``) as remote parties and load generators.

Every SIPp runs in its own process group and is stopped by PID; its screen output and
error trace land in the run folder for the report.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from lab.errors import LabError
from lab.parties.scenarios import callee, caller
from lab.system.net import allocate_address, free_port
from lab.system.procs import signal_group, wait_group_gone

SCENARIOS = Path(__file__).with_name("sipp")
FLAGS = ["-nostdin", "-default_behaviors", "all,-abortunexp", "-trace_err"]


def sipp_binary() -> str | None:
    """SIPp's path (GEOLAB_SIPP overrides it; "none" hides an installed one)."""
    configured = os.environ.get("GEOLAB_SIPP")
    if configured is not None:
        return None if configured in ("", "none") else configured
    return shutil.which("sipp")


def _require() -> str:
    binary = sipp_binary()
    if binary is None:
        raise LabError("sipp is not installed", hint="apt-get install -y sip-tester")
    return binary


def transport_flag(transport: str) -> str:
    return {"udp": "u1", "tcp": "t1"}[transport.lower()]


@dataclass(frozen=True, slots=True)
class SippResult:
    returncode: int
    seconds: float
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def successful_calls(self) -> int | None:
        match = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", self.output)
        return int(match[-1]) if match else None

    @property
    def call_rate(self) -> float | None:
        """Calls per second as SIPp counts them, from its own start to its end (the
        process's start-up and exit left out): the final statistics' cumulative rate."""
        match = re.findall(r"Call Rate\s*\|\s*[\d.]+ cps\s*\|\s*([\d.]+) cps", self.output)
        return float(match[-1]) if match else None


class SippProcess:
    """A SIPp run: ``async with SippProcess(args, …) as p: … await p.wait()``."""

    def __init__(
        self, args: list[str], *, timeout: float, rundir: Path, name: str, host: str = "127.0.0.1"
    ) -> None:
        self.args = args
        self.host = host  # the address it listens on
        self.timeout = timeout
        self.rundir = rundir
        self.name = name
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = 0.0
        self.log_path = rundir / f"{name}.log"

    async def start(self) -> SippProcess:
        binary = _require()
        self.rundir.mkdir(parents=True, exist_ok=True)
        self.started_at = asyncio.get_running_loop().time()
        with self.log_path.open("wb") as log:
            control = [] if "-ci" in self.args else ["-ci", self.host]  # never 0.0.0.0
            self.proc = await asyncio.create_subprocess_exec(
                binary,
                *self.args,
                *control,
                *FLAGS,
                "-timeout",
                f"{max(1, int(self.timeout))}s",
                "-timeout_error",
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                cwd=self.rundir,
                start_new_session=True,
            )
        return self

    async def bound(self, port: int, within: float = 10.0) -> None:
        """Until SIPp holds its UDP ``port`` (a request sent before then is lost, and over
        a reliable transport nobody sends it again), or it has ended, or ``within`` s."""
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self.proc.returncode is None and loop.time() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((self.host, port))
                except OSError:
                    return  # taken: SIPp is reading it
            await asyncio.sleep(0.01)  # (no event tells when another process binds)

    async def wait(self) -> SippResult:
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), self.timeout + 10)
        except TimeoutError:
            await self.stop()
            code = -9
        elapsed = asyncio.get_running_loop().time() - self.started_at
        return SippResult(code, elapsed, self.log_path.read_text(errors="replace"))

    async def stop(self) -> None:
        if self.proc is None:
            return
        pid = self.proc.pid
        if self.proc.returncode is None:
            signal_group(pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 1.0)
            except TimeoutError:
                signal_group(pid, signal.SIGKILL)
                await self.proc.wait()
        signal_group(pid, signal.SIGKILL)
        await wait_group_gone(pid, 5.0)

    async def __aenter__(self) -> SippProcess:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _place(host: str | None) -> tuple[str, int]:
    if host is None:
        return allocate_address(5060), 5060
    return host, free_port(host)


def scenario_file(rundir: Path, name: str, text: str) -> Path:
    rundir.mkdir(parents=True, exist_ok=True)
    path = rundir / f"{name}.xml"
    path.write_text(text)
    return path


def callee_process(
    rundir: Path,
    *,
    host: str | None = None,
    transport: str = "udp",
    calls: int = 1,
    timeout: float = 30.0,
    ring_ms: int = 0,
    name: str = "callee",
) -> tuple[SippProcess, int]:
    """A SIPp UAS on its own loopback address (``proc.host``); returns the process (not
    started) and its port. Its own address: no other test can take the port meanwhile."""
    host, port = _place(host)
    xml = scenario_file(rundir, name, callee(ring_ms=ring_ms))
    args = [
        "-sf",
        str(xml),
        "-i",
        host,
        "-p",
        str(port),
        "-t",
        transport_flag(transport),
        "-m",
        str(calls),
        "-l",
        str(max(1, calls)),
    ]
    return SippProcess(args, timeout=timeout, rundir=rundir, name=name, host=host), port


def caller_process(
    rundir: Path,
    target: tuple[str, int],
    dn: str,
    *,
    host: str | None = None,
    transport: str = "udp",
    hold_ms: int = 500,
    auto_answer: bool = False,
    timeout: float = 30.0,
    name: str = "caller",
    to_host: str | None = None,
) -> SippProcess:
    """A SIPp UAC that calls ``dn`` through the site at ``target`` (To: ``dn@to_host``,
    the AOR, where given)."""
    host, port = _place(host)
    xml = scenario_file(rundir, name, caller(hold_ms=hold_ms, auto_answer=auto_answer,
                                             to_host=to_host))  # fmt: skip
    args = [
        "-sf",
        str(xml),
        "-i",
        host,
        "-p",
        str(port),
        "-t",
        transport_flag(transport),
        "-s",
        dn,
        "-m",
        "1",
        "-l",
        "1",
        f"{target[0]}:{target[1]}",
    ]
    return SippProcess(args, timeout=timeout, rundir=rundir, name=name, host=host)


async def run_sipp(args: list[str], *, timeout: float, cwd: Path | None = None) -> SippResult:
    """Run SIPp to completion in its own process group (used by benchmarks)."""
    rundir = cwd or Path(os.environ.get("TMPDIR", "/tmp"))
    async with SippProcess(args, timeout=timeout, rundir=rundir, name="sipp-run") as proc:
        return await proc.wait()
