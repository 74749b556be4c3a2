"""The endpoint as a process: JSON-lines commands on stdin, one JSON event per line on
stdout, logs on stderr. See docs/endpoint-protocol.md for the contract."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from typing import Any, TextIO

from pydantic import ValidationError

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConfigError, ConnectionConfig, EndpointConfig, split_server
from endpoint.configfile import load
from endpoint.core.events import PhoneEvent
from endpoint.sip.errors import SipError

log = logging.getLogger("endpoint.process")
MAX_LINE = 64 * 1024  # bytes: a longer command is refused (and skipped), not a reason to stop


class CommandError(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise CommandError(f"{name} is not a number a command may carry")


def _int(cmd: dict[str, Any], key: str) -> int:
    value = cmd.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(f"{key!r} must be an integer, got {value!r}")
    return value


def _str(cmd: dict[str, Any], key: str) -> str:
    value = cmd.get(key)
    if not isinstance(value, str) or not value:
        raise CommandError(f"{key!r} must be a non-empty string, got {value!r}")
    return value


class Process:
    def __init__(self, config: EndpointConfig, out: TextIO) -> None:
        self.phone = AsyncPhone(config)
        self.out = out
        self.done = asyncio.Event()
        self.pending: set[asyncio.Future[None]] = set()

    def write(self, payload: dict[str, Any]) -> None:
        try:
            self.out.write(json.dumps(payload, default=str, separators=(",", ":")) + "\n")
            self.out.flush()
        except (OSError, ValueError):  # nobody reads the events any more
            log.warning("cannot write an event (%s): stdout is gone", payload.get("event"))

    def on_event(self, event: PhoneEvent) -> None:
        self.write(event.to_json())

    def error(self, message: str, line: str = "") -> None:
        self.write({"event": "Error", "message": message, "input": line[:200]})

    def handle_line(self, line: str) -> None:
        """One command; whatever it is, the process answers and goes on."""
        line = line.strip()
        if not line:
            return
        try:
            self.execute(json.loads(line, parse_constant=_no_constant))
        except json.JSONDecodeError as exc:
            self.error(f"not JSON: {exc.msg}", line)
        except RecursionError:
            self.error("not a command: nested too deep", line)
        except (CommandError, SipError, ValidationError, ConfigError) as exc:
            self.error(str(exc), line)
        except (LookupError, ValueError, TypeError) as exc:  # what the phone refuses
            self.error(f"refused: {exc}", line)

    def execute(self, cmd: object) -> None:
        if not isinstance(cmd, dict):
            raise CommandError("a command is a JSON object")
        name = cmd.get("cmd")
        p = self.phone
        if name == "dial":
            sid = p.dial(_int(cmd, "connection"), _str(cmd, "destination"))
            self.write({"event": "Dialed", "session": sid, "connection": cmd["connection"]})
        elif name in ("answer", "hangup", "hold", "resume"):
            getattr(p, name)(_str(cmd, "session"))
        elif name == "add_connection":
            fields = {k: v for k, v in cmd.items() if k not in ("cmd", "connection")}
            fields["id"] = _int(cmd, "connection") if "connection" in cmd else fields.get("id")
            if isinstance(fields.get("server"), str) and "port" not in fields:
                host, port = split_server(fields["server"])  # host or host:port
                fields["server"] = host
                if port is not None:
                    fields["port"] = port
            p.add_connection(ConnectionConfig.model_validate(fields))
        elif name in ("enable_connection", "disable_connection", "remove_connection"):
            getattr(p, name)(_int(cmd, "connection"))
        elif name == "connections":
            self.write(
                {
                    "event": "Connections",
                    "connections": [c.snapshot() for c in p.connections.values()],
                }
            )
        elif name == "quit":
            self.done.set()
        else:
            raise CommandError(f"unknown command {name!r}")


def _lines(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> None:
    """In a thread of its own, reading the file descriptor itself (a pipe, a terminal, a
    regular file or /dev/null alike; no buffered object whose lock a daemon thread could
    hold at exit): each line, a longer one cut to MAX_LINE + 1 bytes and the rest
    skipped; None at the end of the input."""

    def put(item: bytes | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be gone already
            loop.call_soon_threadsafe(queue.put_nowait, item)

    pending, skipping = b"", False
    try:
        while chunk := os.read(fd, 65536):
            pending += chunk
            while (end := pending.find(b"\n")) >= 0:
                line, pending = pending[: end + 1], pending[end + 1 :]
                if not skipping:
                    put(line)
                skipping = False
            if len(pending) > MAX_LINE and not skipping:
                put(pending[: MAX_LINE + 1])  # over-long: said once, the rest skipped
                pending, skipping = b"", True
            elif skipping:
                pending = b""
        if pending and not skipping:
            put(pending)
    except OSError:
        log.warning("stopped reading commands", exc_info=True)
    finally:
        put(None)


async def serve(config: EndpointConfig, stdin: TextIO, stdout: TextIO) -> int:
    proc = Process(config, stdout)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, proc.done.set)
    proc.phone.subscribe(proc.on_event)
    try:
        await proc.phone.start()
    except ConfigError as exc:
        proc.error(str(exc))
        return 2
    host, port = proc.phone.local_address
    proc.write({"event": "Ready", "local": f"{host}:{port}"})

    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    try:
        fd = stdin.fileno()
    except (AttributeError, OSError, ValueError):  # no input at all: as if it had ended
        queue.put_nowait(None)
    else:
        threading.Thread(target=_lines, args=(fd, loop, queue), daemon=True).start()

    async def read() -> None:
        while not proc.done.is_set():
            raw = await queue.get()
            if raw is None:  # the input ended: stop as on quit
                proc.done.set()
                return
            if len(raw) > MAX_LINE:
                proc.error(f"a command of over {MAX_LINE} bytes (skipped)")
                continue
            proc.handle_line(raw.decode("utf-8", "replace"))

    reading = asyncio.create_task(read())
    await proc.done.wait()
    reading.cancel()
    await proc.phone.close(unregister=True)
    proc.write({"event": "Stopped"})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m endpoint",
        description="Run the geolab endpoint: JSON-lines commands on stdin, events on stdout.",
    )
    parser.add_argument("--config", required=True, help="SipEndpoint.config (XML) or YAML file")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        config = load(args.config)
    except ConfigError as exc:
        print(f"endpoint: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(config, sys.stdin, sys.stdout))
