"""``geolab adapter check CMD…``: a user's JSON-lines adapter held to the protocol
(docs/endpoint-protocol.md) before its grades are trusted.

Two parts. The protocol: the command is started as the ``process`` driver starts it
(``CMD --config SipEndpoint.config``, two connections on an embedded lab's sites) and
spoken to line by line: its first word, the shape of every event, one status event per
change, the ``Connections`` answer, an ``Error`` naming each bad line while it goes on,
``quit``, and (a second start) the end of its input. The behaviour: a drill run through
the ``process`` driver asks every command of it — dial, hold, resume, hangup, an inbound
call answered, a connection added, disabled, enabled and removed — each expectation one
item. Every item held or not, with what was seen; nothing the check starts outlives it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.configfile import to_xml
from lab.drill.loader import load_scenario
from lab.labs.interface import LabConfig
from lab.run.factory import make_lab
from lab.run.runner import ScenarioRunner
from lab.system.procs import die_with_parent, file_tail

STATUSES = ("Registering", "Available", "Unavailable", "Disabled", "Removed")
WAIT = 10.0  # s for Ready, for registrations, for a stop
ANSWER = 5.0  # s for the answer to a command
BAD_INPUT = {  # what the protocol says is refused with an Error, and the process goes on
    "a line that is not JSON": "this is not json",
    "an unknown command": '{"cmd": "no_such_command"}',
    "a command that is not an object": '["dial", 0]',
    "a dial with no destination": '{"cmd": "dial", "connection": 0}',
    "a dial from a connection that does not exist":
        '{"cmd": "dial", "connection": 99, "destination": "6001"}',
    "Infinity as a value": '{"cmd": "dial", "connection": 0, "destination": Infinity}',
    "CR LF inside a destination":
        '{"cmd": "dial", "connection": 0, "destination": "6001\\r\\nX-Evil: 1"}',
    "a line nested too deep": "[" * 60_000,
    "a line of over 64 KiB": '{"cmd": "connections", "pad": "' + "x" * (65 * 1024) + '"}',
}  # fmt: skip
DRILL = """\
name: "adapter conformance: every command and event of the protocol"
endpoint:
  connections:
    - {site: a, reg_interval: 60}
    - {site: b, reg_interval: 60}
parties:
  - {name: callee, kind: callee, site: a, user: "6001"}
steps:
  - expect: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - expect: {event: ConnectionStatusChanged, connection: 1, status: Available}
    within: 5s
  - dial: {connection: 0, destination: "6001", as: out}
  - expect: {event: SessionStatusChanged, session: out, status: Established, connection: 0}
    within: 3s
  - hold: out
  - expect: {event: SessionStatusChanged, session: out, status: OnHold}
    within: 2s
  - resume: out
  - expect: {event: SessionStatusChanged, session: out, status: Established}
    within: 2s
  - hangup: out
  - expect: {event: SessionStatusChanged, session: out, status: Disconnected, reason: LocalHangup}
    within: 2s
  - call: {site: b, to: "5001", as: in, hold_ms: 500}
  - expect: {event: SessionStatusChanged, session: in, status: Ringing, connection: 1}
    within: 3s
  - answer: in
  - expect: {event: SessionStatusChanged, session: in, status: Established}
    within: 2s
  - expect: {event: SessionStatusChanged, session: in, status: Disconnected, reason: RemoteHangup}
    within: 3s
  - add_connection: {id: 7, site: b, user: "5002", reg_interval: 60}
  - expect: {event: ConnectionStatusChanged, connection: 7, status: Available}
    within: 3s
  - disable_connection: 7
  - expect: {event: ConnectionStatusChanged, connection: 7, status: Disabled}
    within: 2s
  - enable_connection: 7
  - expect: {event: ConnectionStatusChanged, connection: 7, status: Available}
    within: 3s
  - remove_connection: 7
  - expect: {event: ConnectionStatusChanged, connection: 7, status: Removed}
    within: 2s
invariants:
  - check: one_event_per_change
"""


@dataclass
class Item:
    """One line of the checklist."""

    what: str
    held: bool
    seen: str = ""


class Session:
    """The adapter started once, spoken to line by line; what it wrote kept in order."""

    def __init__(self, command: list[str], config: Path, log: Path) -> None:
        self.command, self.config, self.log = command, config, log
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[tuple[str, dict[str, Any] | None]] = []  # raw, parsed (None: not JSON)
        self.arrived = asyncio.Condition()
        self.reader: asyncio.Task[None] | None = None

    async def start(self) -> str | None:
        """None once started; else why it could not be."""
        try:
            with self.log.open("ab") as err:
                self.proc = await asyncio.create_subprocess_exec(
                    *self.command, "--config", str(self.config), stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE, stderr=err, start_new_session=True,
                    preexec_fn=die_with_parent, limit=1 << 20,
                )  # fmt: skip
        except OSError as exc:
            return f"cannot start {' '.join(self.command)}: {exc.strerror or exc}"
        self.reader = asyncio.create_task(self._read())
        return None

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        while True:
            try:
                raw = await self.proc.stdout.readline()
            except ValueError:
                raw = b'"a line of over 1 MiB"\n'
            if not raw:
                break
            text = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            async with self.arrived:
                self.lines.append((text, parsed if isinstance(parsed, dict) else None))
                self.arrived.notify_all()
        async with self.arrived:
            self.arrived.notify_all()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [p for _, p in self.lines if p is not None]

    async def until(self, predicate: Any, timeout: float, start: int = 0) -> dict[str, Any] | None:
        """The first event from ``start`` on that ``predicate`` holds for, within ``timeout``."""
        deadline = time.monotonic() + timeout

        def found() -> dict[str, Any] | None:
            return next((p for _, p in self.lines[start:] if p is not None and predicate(p)), None)

        async with self.arrived:
            while (hit := found()) is None:
                left = deadline - time.monotonic()
                if left <= 0 or (self.reader is not None and self.reader.done()):
                    return None
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.arrived.wait(), left)
            return hit

    def send(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.proc.stdin.write(line.encode("utf-8", "surrogateescape") + b"\n")

    def close_input(self) -> None:
        if self.proc is not None and self.proc.stdin is not None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                self.proc.stdin.close()

    async def exit_code(self, timeout: float) -> int | None:
        assert self.proc is not None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None

    async def end(self) -> None:
        """Its whole group ended, whatever it did."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader


def config_for(targets: dict[str, tuple[str, int, str]]) -> EndpointConfig:
    """Connection i registers 5001 on the i-th site (host, port, AOR domain)."""
    connections = [ConnectionConfig(id=i, user="5001", server=ip, port=port, domain=domain,
                                    reg_interval=60, retry_interval=2)
                   for i, (ip, port, domain) in enumerate(targets.values())]  # fmt: skip
    return EndpointConfig(connections=connections, local_host="127.0.0.1")


def shape_faults(event: dict[str, Any]) -> list[str]:
    """What in a ConnectionStatusChanged event is not as the protocol says."""
    faults = []
    if not isinstance(event.get("connection"), int) or isinstance(event.get("connection"), bool):
        faults.append("connection is not an integer")
    if event.get("status") not in STATUSES:
        faults.append(f"status {event.get('status')!r} is none of {', '.join(STATUSES)}")
    if event.get("previous") is not None and event.get("previous") not in STATUSES:
        faults.append(f"previous {event.get('previous')!r} is neither null nor a status")
    if not isinstance(event.get("reason", ""), str):
        faults.append("reason is not a string")
    code = event.get("code")
    if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
        faults.append("code is neither null nor an integer")
    return faults


def change_faults(events: list[dict[str, Any]]) -> list[str]:
    """Where a status event is not one change: the same status again, or a ``previous``
    that is not the status last said."""
    last: dict[Any, Any] = {}
    faults = []
    for e in events:
        if e.get("event") != "ConnectionStatusChanged":
            continue
        cid, status = e.get("connection"), e.get("status")
        if cid in last and last[cid] == status:
            faults.append(f"connection {cid}: {status} said twice")
        elif e.get("previous") != last.get(cid):
            faults.append(f"connection {cid}: previous {e.get('previous')!r}, "
                          f"but the last status said was {last.get(cid)!r}")  # fmt: skip
        last[cid] = status
    return faults


def _folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _written(path: Path, text: str) -> Path:
    _folder(path.parent)
    path.write_text(text)
    return path


async def protocol_items(command: list[str], targets: dict[str, tuple[str, int, str]],
                         folder: Path) -> list[Item]:  # fmt: skip
    cfg = _written(folder / "SipEndpoint.config", to_xml(config_for(targets)))
    items: list[Item] = []
    session = Session(command, cfg, folder / "stderr.log")
    try:
        why = await session.start()
        if why is not None:
            return [Item("starts with --config FILE", False, why)]
        ready = await session.until(lambda e: e.get("event") == "Ready", WAIT)
        items.append(Item("says Ready, with its local address (host:port)",
                          ready is not None and isinstance(ready.get("local"), str)
                          and ":" in ready["local"],
                          json.dumps(ready) if ready else f"no Ready within {WAIT:g} s; "
                          f"its stderr: {file_tail(session.log, 3) or 'empty'}"))  # fmt: skip
        available = [await session.until(
            lambda e, i=i: e.get("event") == "ConnectionStatusChanged"
            and e.get("connection") == i and e.get("status") == "Available", WAIT)
            for i in range(len(targets))]  # fmt: skip
        items.append(Item("registers every connection of its SipEndpoint.config (Available)",
                          all(available), f"Available: {[a is not None for a in available]}"))
        asked = len(session.lines)
        session.send('{"cmd": "connections"}')
        answer = await session.until(lambda e: e.get("event") == "Connections", ANSWER, asked)
        listed = answer.get("connections") if answer else None
        ids = sorted(str(c.get("id")) for c in listed if isinstance(c, dict)) if isinstance(
            listed, list) else None  # fmt: skip
        items.append(Item("answers connections with a Connections event listing each one",
                          ids == [str(i) for i in range(len(targets))], json.dumps(answer)[:200]
                          if answer else "no Connections event"))  # fmt: skip
        for name, line in BAD_INPUT.items():
            items.append(await _refused(session, name, line))
        statuses = [e for e in session.events if e.get("event") == "ConnectionStatusChanged"]
        faults = sorted({f for e in statuses for f in shape_faults(e)})
        items.append(Item("every ConnectionStatusChanged has the protocol's fields and values",
                          bool(statuses) and not faults, "; ".join(faults) or
                          f"{len(statuses)} status events"))  # fmt: skip
        changes = change_faults(session.events)
        items.append(Item("exactly one status event per change", bool(statuses) and not changes,
                          "; ".join(changes[:3]) or "every event is one change"))  # fmt: skip
        stray = [raw for raw, parsed in session.lines if parsed is None or
                 not isinstance(parsed.get("event"), str)]  # fmt: skip
        items.append(Item("writes only JSON objects naming their event on stdout", not stray,
                          f"also wrote: {stray[0][:120]!r}" if stray else
                          f"{len(session.lines)} lines"))  # fmt: skip
        asked = len(session.lines)
        session.send('{"cmd": "quit"}')
        items.append(await _stops(session, "quit", asked))
    finally:
        await session.end()
    second = Session(command, cfg, folder / "stderr-2.log")
    try:
        if await second.start() is None and await second.until(
            lambda e: e.get("event") == "Ready", WAIT
        ):
            asked = len(second.lines)
            second.close_input()
            items.append(await _stops(second, "the end of its input", asked))
        else:
            items.append(Item("stops at the end of its input", False, "it did not start again"))
    finally:
        await second.end()
    return items


async def _refused(session: Session, name: str, line: str) -> Item:
    """``line`` sent, then ``connections``: an Error naming the line must come before the
    Connections answer (the commands are served in order), and the answer must come."""
    asked = len(session.lines)
    session.send(line)
    session.send('{"cmd": "connections"}')
    what = f"answers {name} with an Error naming the line, and goes on"
    after = await session.until(lambda e: e.get("event") == "Connections", ANSWER, asked)
    upto = next((i for i, (_, p) in enumerate(session.lines) if p is after and i >= asked),
                len(session.lines))  # fmt: skip
    error = next((p for _, p in session.lines[asked:upto]
                  if p is not None and p.get("event") == "Error"), None)  # fmt: skip
    if error is None:
        return Item(what, False, "no Error event" + ("" if after else "; nor an answer after it"))
    shown = error.get("input")
    named = isinstance(shown, str) and (shown == line or (len(line) > 1024 and bool(shown)) or
                                        line.startswith(shown.rstrip("…. ")))  # fmt: skip
    if not isinstance(error.get("message"), str) or not named:
        return Item(what, False, f"an Error without its message or line: {json.dumps(error)[:160]}")
    if after is None:
        return Item(what, False, "it answered nothing after it")
    return Item(what, True, str(error["message"])[:100])


async def _stops(session: Session, how: str, asked: int) -> Item:
    what = f"stops at {how}: says Stopped and exits 0"
    stopped = await session.until(lambda e: e.get("event") == "Stopped", WAIT, asked)
    code = await session.exit_code(WAIT)
    if stopped is None or code != 0:
        return Item(what, False, f"Stopped said: {stopped is not None}; exit code: "
                    f"{code if code is not None else f'none within {WAIT:g} s'}")  # fmt: skip
    return Item(what, True, "exit 0")


async def behaviour_items(command: list[str], folder: Path) -> list[Item]:
    drill = _written(folder / "conformance.yaml", DRILL)
    runner = ScenarioRunner(load_scenario(drill), backend="embedded", driver="process",
                            endpoint_command=command, workdir=folder / "drill")  # fmt: skip
    result = await runner.run()
    items = [Item(f"drives: {e.expected}", e.passed, e.observed[:200])
             for e in result.expectations]  # fmt: skip
    items += [Item("runs a drill through the process driver", False, error)
              for error in result.errors]  # fmt: skip
    return items


async def check(command: list[str], folder: Path) -> list[Item]:
    """The whole checklist for ``command``, run in ``folder``."""
    lab = make_lab(LabConfig(sites=["a", "b"], backend="embedded", proxy=False,
                             workdir=_folder(folder / "lab")))  # fmt: skip
    await lab.start()
    try:
        targets = {name: (*lab.target(name), lab.site(name).spec.domain) for name in lab.sites}
        items = await protocol_items(command, targets, folder / "protocol")
    finally:
        await lab.stop()
    if items and items[0].what.startswith("starts"):
        return items
    return items + await behaviour_items(command, folder)
