"""``process``: any command that speaks the JSON-lines endpoint protocol
(docs/endpoint-protocol.md); ``python -m endpoint`` is the reference and the default. It
gets a SipEndpoint.config written for it, as the seed's SDK reads one.

What the process does wrong (a command not found, an exit at once or mid-drill, a line that
is not JSON, no Ready, a ``quit`` ignored) is a lab error naming the driver, what it saw
and the tail of its stderr; the process never outlives the lab."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections import deque
from pathlib import Path
from typing import Any

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.configfile import to_xml
from lab.drivers.base import DriverContext, kill_endpoint
from lab.drivers.capabilities import CAPABILITIES
from lab.errors import LabError
from lab.stream.events import phone_event
from lab.system.procs import die_with_parent, file_tail

READY_TIMEOUT = 10.0  # s for the process to say Ready
REPLY_TIMEOUT = 5.0  # s for the answer to a command
QUIT_TIMEOUT = 5.0  # s for it to stop after quit
REFERENCE = [sys.executable, "-m", "endpoint"]


class ProcessDriver:
    name = "process"
    capabilities = CAPABILITIES["process"]

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = list(command or REFERENCE)
        self.proc: asyncio.subprocess.Process | None = None
        self.ctx: DriverContext | None = None
        self.stderr_path: Path | None = None
        self.stopping = False
        self.ready: asyncio.Future[dict[str, Any]] | None = None
        self.stopped = asyncio.Event()
        self._dialed: deque[asyncio.Future[str]] = deque()
        self._barriers: deque[asyncio.Future[None]] = deque()
        self._sent: dict[str, asyncio.Future[Any]] = {}  # a command's line -> its outcome
        self._reader: asyncio.Task[None] | None = None
        self.seen: deque[str] = deque(maxlen=5)  # the last lines it wrote, for errors
        self.local: tuple[str, int] | None = None  # from its Ready

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self.local

    def _what(self) -> str:
        return f"endpoint (driver {self.name}: {' '.join(self.command)})"

    def stderr_tail(self) -> str:
        return file_tail(self.stderr_path)

    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None:
        self.ctx = ctx
        folder = ctx.workdir / "endpoint"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        cfg = folder / "SipEndpoint.config"
        cfg.touch(mode=0o600)
        cfg.write_text(to_xml(config))
        self.stderr_path = folder / "stderr.log"
        loop = asyncio.get_running_loop()
        self.ready = loop.create_future()
        with self.stderr_path.open("ab") as err:
            try:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.command, "--config", str(cfg),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=err,
                    start_new_session=True, preexec_fn=die_with_parent,
                    limit=1 << 20,
                )  # fmt: skip
            except OSError as exc:
                raise LabError(f"{self._what()}: cannot start: {exc.strerror or exc}") from None
        self._reader = asyncio.create_task(self._read())
        try:
            await asyncio.wait_for(asyncio.shield(self.ready), READY_TIMEOUT)
        except TimeoutError:
            await self._kill()
            raise LabError(
                f"{self._what()} did not say Ready within {READY_TIMEOUT:g}s; it wrote: "
                f"{list(self.seen) or 'nothing'}",
                log=self.stderr_tail(),
            ) from None
        except LabError as exc:
            await self._kill()
            raise LabError(exc.what, log=self.stderr_tail()) from None

    # --- what it writes -------------------------------------------------------------------
    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while True:
                try:
                    raw = await self.proc.stdout.readline()
                except ValueError:  # a line over the limit
                    self._fail("wrote a line of over 1 MiB")
                    return
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                self.seen.append(line[:200])
                event = _json_object(line)
                if event is None:
                    self._fail(f"wrote a line that is not a JSON event: {line[:120]!r}")
                    return
                self._on(event)
        finally:
            code = await self.proc.wait()
            if not self.stopping:
                self._fail(f"exited (code {code}) while the drill ran")
            self.stopped.set()

    def _fail(self, what: str) -> None:
        message = f"{self._what()} {what}"
        if self.ready is not None and not self.ready.done():
            self.ready.set_exception(LabError(message))
            return
        waiting: list[asyncio.Future[Any]] = [*self._dialed, *self._barriers, *self._sent.values()]
        tail = self.stderr_tail()
        for future in waiting:  # a command waiting for its answer says it too
            if not future.done():
                future.set_exception(LabError(message, log=tail or None))
        if self.ctx is not None and not self.stopping:
            self.ctx.on_failure(message + (f"\n--- its stderr ---\n{tail}" if tail else ""))

    def _on(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "Ready" and self.ready is not None and not self.ready.done():
            host, _, port = str(event.get("local", "")).rpartition(":")
            self.local = (host, int(port)) if port.isdigit() else None
            self.ready.set_result(event)
        elif kind in ("ConnectionStatusChanged", "SessionStatusChanged") and self.ctx:
            try:
                self.ctx.on_event(phone_event(str(kind), event, float(event.get("t", 0.0))))
            except (KeyError, TypeError, ValueError) as exc:
                self._fail(f"wrote an event that does not fit the protocol ({exc}): {event}")
        elif kind == "Dialed" and self._dialed:
            future = self._dialed.popleft()
            if not future.done():
                future.set_result(str(event.get("session")))
        elif kind == "Connections" and self._barriers:
            barrier = self._barriers.popleft()
            if not barrier.done():
                barrier.set_result(None)
        elif kind == "Error":
            refused = self._sent.pop(str(event.get("input", "")), None)
            if refused is not None and not refused.done():
                refused.set_exception(ValueError(str(event.get("message"))))
        elif kind == "Stopped":
            self.stopping = True

    # --- what it is told ------------------------------------------------------------------
    async def _send(self, cmd: dict[str, Any], *, expects: str | None = None) -> Any:
        if self.proc is None or self.proc.stdin is None or self.proc.returncode is not None:
            raise LabError(f"{self._what()} is not running")
        loop = asyncio.get_running_loop()
        line = json.dumps(cmd, separators=(",", ":"))
        outcome: asyncio.Future[Any] = loop.create_future()
        self._sent[line[:200]] = outcome
        reply: asyncio.Future[Any]
        if expects == "Dialed":
            reply = loop.create_future()
            self._dialed.append(reply)
        barrier: asyncio.Future[None] = loop.create_future()
        self._barriers.append(barrier)  # commands are served in order: this one's answered
        try:
            self.proc.stdin.write(line.encode() + b"\n" + b'{"cmd":"connections"}\n')
            await self.proc.stdin.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise LabError(f"{self._what()} does not read its commands: {exc}") from None
        try:
            async with asyncio.timeout(REPLY_TIMEOUT):
                if expects == "Dialed":
                    done, _ = await asyncio.wait(
                        {reply, outcome}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if outcome in done:
                        outcome.result()  # raises what it refused
                    return reply.result()
                await asyncio.wait({barrier, outcome}, return_when=asyncio.FIRST_COMPLETED)
                if outcome.done():
                    outcome.result()
        except TimeoutError:
            raise LabError(f"{self._what()} did not answer {line[:80]} within {REPLY_TIMEOUT:g}s"
                           ) from None  # fmt: skip
        finally:
            self._sent.pop(line[:200], None)
        return None

    async def dial(self, connection: int, destination: str, /) -> str:
        return str(await self._send({"cmd": "dial", "connection": connection,
                                     "destination": destination}, expects="Dialed"))  # fmt: skip

    async def answer(self, session: str, /) -> None:
        await self._send({"cmd": "answer", "session": session})

    async def hangup(self, session: str, /) -> None:
        await self._send({"cmd": "hangup", "session": session})

    async def hold(self, session: str, /) -> None:
        await self._send({"cmd": "hold", "session": session})

    async def resume(self, session: str, /) -> None:
        await self._send({"cmd": "resume", "session": session})

    async def add_connection(self, config: ConnectionConfig, /) -> None:
        fields = config.model_dump(exclude_none=True)
        fields["connection"] = fields.pop("id")
        fields["server"] = f"{fields.pop('server')}:{fields.pop('port')}"
        await self._send({"cmd": "add_connection", **fields})

    async def enable_connection(self, connection: int, /) -> None:
        await self._send({"cmd": "enable_connection", "connection": connection})

    async def disable_connection(self, connection: int, /) -> None:
        await self._send({"cmd": "disable_connection", "connection": connection})

    async def remove_connection(self, connection: int, /) -> None:
        await self._send({"cmd": "remove_connection", "connection": connection})

    # --- stopping -------------------------------------------------------------------------
    async def stop(self) -> str | None:
        """``quit``, then the end of its input; a process that does not go within
        QUIT_TIMEOUT is killed, and that is said."""
        if self.proc is None:
            return None
        self.stopping = True
        problem = None
        if self.proc.returncode is None:
            with contextlib.suppress(ConnectionError, RuntimeError, AttributeError):
                assert self.proc.stdin is not None
                self.proc.stdin.write(b'{"cmd":"quit"}\n')
                await self.proc.stdin.drain()
                self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.stopped.wait(), QUIT_TIMEOUT)
            except TimeoutError:
                problem = f"{self._what()} ignored quit for {QUIT_TIMEOUT:g}s: killed"
        await self._kill()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        return problem

    async def _kill(self) -> None:
        """SIGKILL its process group, whatever it left (its own children too)."""
        if self.proc is None:
            return
        self.stopping = True
        await kill_endpoint(self.proc)


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
