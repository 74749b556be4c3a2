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
from typing import Any

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.configfile import to_xml
from lab.drivers.base import DriverContext
from lab.drivers.capabilities import Capabilities
from lab.drivers.kit import EndpointProcess
from lab.drivers.registry import driver
from lab.errors import LabError
from lab.stream.events import phone_event

READY_TIMEOUT = 10.0  # s for the process to say Ready
REPLY_TIMEOUT = 5.0  # s for the answer to a command
QUIT_TIMEOUT = 5.0  # s for it to stop after quit
REFERENCE = [sys.executable, "-m", "endpoint"]


@driver("process", Capabilities(),
        "a command speaking the JSON-lines protocol (--endpoint-command; python -m endpoint)")
class ProcessDriver(EndpointProcess):
    default_command = tuple(REFERENCE)
    log_name = "stderr"

    def __init__(self, command: list[str] | None = None) -> None:
        super().__init__(command)
        self._dialed: deque[asyncio.Future[str]] = deque()
        self._barriers: deque[asyncio.Future[None]] = deque()
        self._sent: dict[str, asyncio.Future[Any]] = {}  # a command's line -> its outcome
        self.seen: deque[str] = deque(maxlen=5)  # the last lines it wrote, for errors
        self.local: tuple[str, int] | None = None  # from its Ready

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self.local

    def stderr_tail(self) -> str:
        return self.log_tail()

    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None:
        self.ctx = ctx
        folder = ctx.workdir / "endpoint"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        cfg = folder / "SipEndpoint.config"
        cfg.touch(mode=0o600)
        cfg.write_text(to_xml(config))
        self.log_path = folder / "stderr.log"
        with self.log_path.open("ab") as err:
            await self.spawn("--config", str(cfg), stdin=asyncio.subprocess.PIPE,
                             stdout=asyncio.subprocess.PIPE, stderr=err,
                             limit=1 << 20)  # fmt: skip
        self.tasks.append(asyncio.create_task(self._read()))
        await self.until_ready(READY_TIMEOUT, "did not say Ready")

    def said(self) -> str:
        return f"; it wrote: {list(self.seen) or 'nothing'}"

    # --- what it writes -------------------------------------------------------------------
    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        try:
            while True:
                try:
                    raw = await self.proc.stdout.readline()
                except ValueError:  # a line over the limit
                    self.fail("wrote a line of over 1 MiB")
                    return
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").strip()
                if not line:
                    continue
                self.seen.append(line[:200])
                event = _json_object(line)
                if event is None:
                    self.fail(f"wrote a line that is not a JSON event: {line[:120]!r}")
                    return
                self._on(event)
        finally:
            self.ended(await self.proc.wait())

    def waiting(self) -> list[asyncio.Future[Any]]:
        return [*self._dialed, *self._barriers, *self._sent.values()]

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
                self.fail(f"wrote an event that does not fit the protocol ({exc}): {event}")
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
    async def ask_to_stop(self) -> str | None:
        """``quit``, then the end of its input; one that does not go within QUIT_TIMEOUT
        is killed, and that is said."""
        assert self.proc is not None
        with contextlib.suppress(ConnectionError, RuntimeError, AttributeError):
            assert self.proc.stdin is not None
            self.proc.stdin.write(b'{"cmd":"quit"}\n')
            await self.proc.stdin.drain()
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.exited.wait(), QUIT_TIMEOUT)
        except TimeoutError:
            return f"{self._what()} ignored quit for {QUIT_TIMEOUT:g}s: killed"
        return None


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
