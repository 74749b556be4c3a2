"""``baresip``: Debian's baresip, a real third-party endpoint, one account per connection,
driven through its ``ctrl_tcp`` control port (JSON in netstrings, on 127.0.0.1).

The driver translates (:mod:`lab.drivers.baresip_events`) and nothing else: no failover,
no re-registration kicks, no retries. baresip keeps its own retry timing and transaction
timeout (its account line has no setting for either); what it does is what is graded.
What it does wrong (not installed, exits, never gets ready, stops answering) is a lab
error naming the driver, with the tail of its log; it never outlives the lab."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import signal
from typing import Any

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.drivers.baresip_events import (
    NetstringReader,
    Translator,
    account_line,
    aor,
    config_text,
    netstring,
    unsupported_by_account,
)
from lab.drivers.base import DriverContext
from lab.drivers.capabilities import COMMANDS, Capabilities
from lab.drivers.kit import EndpointProcess
from lab.drivers.registry import driver
from lab.errors import LabError
from lab.system.net import allocate_address, free_port

READY_TIMEOUT = 10.0  # s for "baresip is ready."
REPLY_TIMEOUT = 5.0  # s for the answer to a command
QUIT_GRACE = 2.0  # s for it to unregister and exit after SIGTERM (then SIGTERM again)
QUIT_TIMEOUT = 3.0  # s for it to exit after the second SIGTERM (its forced stop)
MODULES = "/usr/lib/baresip/modules"
CONTROL_PORT = 4444  # ctrl_tcp's own default port, on baresip's loopback address


# baresip 1.0.0: no command to enable or disable an account, no keep-alive it can be asked
# for (its account line has none), real sites only
@driver(
    "baresip",
    Capabilities(commands=COMMANDS - {"enable_connection", "disable_connection"},
                 keepalives=frozenset(), backoffs=frozenset({"fixed"}), session_timers=False,
                 transports=frozenset({"udp", "tcp", "tls"})),
    "Debian's baresip through its ctrl_tcp port (--endpoint-command: another binary)",
)  # fmt: skip
class BaresipDriver(EndpointProcess):
    default_command = ("baresip",)

    def __init__(self, command: list[str] | None = None) -> None:
        super().__init__(command)
        self.local: tuple[str, int] | None = None
        self.tr = Translator()
        self.conns: dict[int, ConnectionConfig] = {}
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tokens = itertools.count(1)
        self._current = asyncio.Lock()  # uafind/callfind + a command act on "the current"
        self._writer: asyncio.StreamWriter | None = None

    @property
    def local_address(self) -> tuple[str, int] | None:
        return self.local

    # --- starting -------------------------------------------------------------------------
    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None:
        self.ctx = ctx
        for conn in config.connections:
            why = unsupported_by_account(conn)
            if why is not None:
                raise LabError(f"{self._what()}: connection {conn.id}: {why}")
        aors = [aor(c) for c in config.connections]
        if len(set(aors)) != len(aors):
            raise LabError(f"{self._what()} tells accounts apart by AOR, and connections share "
                           f"one: {aors}")  # fmt: skip
        if shutil.which(self.command[0]) is None:
            raise LabError(f"{self._what()}: {self.command[0]!r} is not installed",
                           hint="apt-get install -y --no-install-recommends baresip")  # fmt: skip
        folder = ctx.workdir / "baresip"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if config.local_port == 0 and config.local_host == "127.0.0.1":
            # an address of its own: baresip binds SIP on UDP, TCP and TLS (port + 1)
            host = allocate_address(5060)
            self.local, control = (host, 5060), (host, CONTROL_PORT)
        else:
            host = config.local_host
            self.local = (host, config.local_port or free_port(host))
            control = (host, free_port(host))
        cafiles = {c.tls_ca for c in config.connections if c.tls_ca is not None}
        if len(cafiles) > 1:
            raise LabError(f"{self._what()} trusts one CA file (sip_cafile), and connections "
                           f"name several: {', '.join(sorted(cafiles))}")  # fmt: skip
        (folder / "config").write_text(config_text(sip=self.local, control=control,
                                                   modules=MODULES,
                                                   cafile=next(iter(cafiles), None),
                                                   dns=config.dns_server))  # fmt: skip
        for name in ("accounts", "contacts"):
            (folder / name).write_text("")
        self.log_path = folder / "baresip.log"
        await self.spawn("-f", str(folder), stdin=asyncio.subprocess.DEVNULL,
                         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self.tasks.append(asyncio.create_task(self._read_log()))
        await self.until_ready(READY_TIMEOUT, "did not get ready")
        try:
            reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(*control), REPLY_TIMEOUT
            )
        except (TimeoutError, OSError) as exc:
            await self.kill()
            raise LabError(f"{self._what()}: its control port {control[0]}:{control[1]}: "
                           f"{exc!r}", log=self.log_tail()) from None  # fmt: skip
        self.tasks.append(asyncio.create_task(self._read_control(reader)))
        for conn in config.connections:
            if conn.enabled:
                await self.add_connection(conn)
        if config.auto_answer:
            await self._command("answermode", "auto")

    # --- what it writes -------------------------------------------------------------------
    async def _read_log(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self.log_path
        try:
            with self.log_path.open("ab") as log:
                while raw := await self.proc.stdout.readline():
                    log.write(raw)
                    log.flush()
                    line = raw.decode("utf-8", "replace").strip()
                    if "baresip is ready" in line and self.ready and not self.ready.done():
                        self.ready.set_result(None)
        finally:
            self.ended(await self.proc.wait())

    async def _read_control(self, reader: asyncio.StreamReader) -> None:
        frames = NetstringReader()
        while True:
            try:
                data = await reader.read(65536)
            except ConnectionError:  # reset: a killed baresip's port, closed as below
                data = b""
            if not data:  # it closed the port: most likely it is exiting, which says more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.exited.wait(), 1.0)
                if not self.stopping and not self.exited.is_set():
                    self.fail("closed its control port")
                return
            try:
                messages = frames.feed(data)
            except ValueError as exc:
                self.fail(f"wrote on its control port what is not JSON in netstrings: {exc}")
                return
            for message in messages:
                self._on(message)

    def _on(self, message: dict[str, Any]) -> None:
        if message.get("response"):
            reply = self._replies.pop(str(message.get("token")), None)
            if reply is not None and not reply.done():
                reply.set_result(message)
        elif message.get("event"):
            now = asyncio.get_running_loop().time()
            self._emit(self.tr.event(message, now))

    def _emit(self, events: list[PhoneEvent]) -> None:
        if self.ctx is not None:
            for event in events:
                self.ctx.on_event(event)

    def waiting(self) -> list[asyncio.Future[dict[str, Any]]]:
        return list(self._replies.values())

    # --- what it is told ------------------------------------------------------------------
    async def _command(self, command: str, params: str = "") -> str:
        """One menu command; what baresip answered, or ValueError with what it refused."""
        if self._writer is None or self.proc is None or self.proc.returncode is not None:
            raise LabError(f"{self._what()} is not running")
        token = str(next(self._tokens))
        reply = asyncio.get_running_loop().create_future()
        self._replies[token] = reply
        try:
            self._writer.write(netstring({"command": command, "params": params, "token": token}))
            await self._writer.drain()
            answer = await asyncio.wait_for(reply, REPLY_TIMEOUT)
        except (ConnectionError, RuntimeError) as exc:
            raise LabError(f"{self._what()} does not read its control port: {exc}") from None
        except TimeoutError:
            raise LabError(f"{self._what()} did not answer {command} within "
                           f"{REPLY_TIMEOUT:g}s") from None  # fmt: skip
        finally:
            self._replies.pop(token, None)
        data = str(answer.get("data", ""))
        if not answer.get("ok"):
            raise ValueError(f"baresip refused {command}: {data.strip()}")
        return data

    def _aor(self, connection: int) -> str:
        conn = self.conns.get(connection)
        if conn is None:
            raise LookupError(f"no connection {connection}")
        return aor(conn)

    async def dial(self, connection: int, destination: str, /) -> str:
        account = self._aor(connection)
        async with self._current:
            await self._command("uafind", account)
            session = self.tr.dial_pending(connection, destination)
            try:
                await self._command("dial", destination)
            except (ValueError, LabError):
                self.tr.dial_refused(session)
                raise
        self._emit(self.tr.dial_accepted(session, asyncio.get_running_loop().time()))
        return session

    async def _on_call(self, session: str, command: str) -> None:
        """``command`` on one call: found by its Call-ID, or, for a dial baresip has not
        named yet, its account's current call."""
        call_id = self.tr.call_id(session)
        account = self.tr.account_of(session)
        if call_id is None and account is None:
            raise LookupError(f"no session {session}")
        async with self._current:
            if call_id is not None:
                await self._command("callfind", call_id)
            else:
                await self._command("uafind", self._aor(account or 0))
            await self._command(command)

    async def answer(self, session: str, /) -> None:
        await self._on_call(session, "accept")

    async def hangup(self, session: str, /) -> None:
        await self._on_call(session, "hangup")

    async def hold(self, session: str, /) -> None:
        await self._on_call(session, "hold")  # baresip says nothing: it took the command
        self._emit(self.tr.held(session, True, asyncio.get_running_loop().time()))

    async def resume(self, session: str, /) -> None:
        await self._on_call(session, "resume")
        self._emit(self.tr.held(session, False, asyncio.get_running_loop().time()))

    async def add_connection(self, config: ConnectionConfig, /) -> None:
        why = unsupported_by_account(config)
        if why is not None:
            raise ValueError(f"connection {config.id}: {why}")
        self.conns[config.id] = config
        self.tr.add(config)
        await self._command("uanew", account_line(config))

    async def remove_connection(self, connection: int, /) -> None:
        await self._command("uadel", self._aor(connection))
        self.conns.pop(connection, None)
        self._emit(self.tr.removed(connection, asyncio.get_running_loop().time()))

    async def enable_connection(self, connection: int, /) -> None:
        raise LabError(f"{self._what()} cannot enable a connection (drills that do are "
                       "not applicable to it)")  # fmt: skip

    async def disable_connection(self, connection: int, /) -> None:
        raise LabError(f"{self._what()} cannot disable a connection (drills that do are "
                       "not applicable to it)")  # fmt: skip

    # --- stopping -------------------------------------------------------------------------
    async def ask_to_stop(self) -> str | None:
        """SIGTERM: baresip unregisters its accounts and exits. One still waiting for a
        site's answer after QUIT_GRACE gets a second SIGTERM (baresip's forced stop); one
        still there QUIT_TIMEOUT later is killed, and that is said."""
        assert self.proc is not None
        for wait in (QUIT_GRACE, QUIT_TIMEOUT):
            if self.proc.returncode is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), wait)
        if not self.exited.is_set():
            return (f"{self._what()} did not exit {QUIT_GRACE + QUIT_TIMEOUT:g}s after "
                    "SIGTERM twice: killed")  # fmt: skip
        return None

    async def stop(self) -> str | None:
        problem = await super().stop()
        if self._writer is not None:
            self._writer.close()
        return problem
