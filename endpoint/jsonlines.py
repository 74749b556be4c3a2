"""The endpoint as a process: JSON-lines commands on stdin, one JSON event per line on
stdout, logs on stderr. See docs/endpoint-protocol.md for the contract."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from typing import Any, TextIO

from pydantic import ValidationError

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConfigError, ConnectionConfig, EndpointConfig, load
from endpoint.core.events import PhoneEvent
from endpoint.sip.errors import SipError

log = logging.getLogger("endpoint.process")


class CommandError(ValueError):
    pass


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

    def write(self, payload: dict[str, Any]) -> None:
        self.out.write(json.dumps(payload, default=str, separators=(",", ":")) + "\n")
        self.out.flush()

    def on_event(self, event: PhoneEvent) -> None:
        self.write(event.to_json())

    def handle_line(self, line: str) -> None:
        line = line.strip()
        if not line:
            return
        try:
            self.execute(json.loads(line))
        except json.JSONDecodeError as exc:
            self.write({"event": "Error", "message": f"not JSON: {exc.msg}", "input": line[:200]})
        except (CommandError, SipError, ValidationError, ConfigError) as exc:
            self.write({"event": "Error", "message": str(exc), "input": line[:200]})

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


async def serve(config: EndpointConfig, stdin: TextIO, stdout: TextIO) -> int:
    proc = Process(config, stdout)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, proc.done.set)
    proc.phone.subscribe(proc.on_event)
    await proc.phone.start()
    host, port = proc.phone.local_address
    proc.write({"event": "Ready", "local": f"{host}:{port}"})

    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)

    async def read() -> None:
        while not proc.done.is_set():
            raw = await reader.readline()
            if not raw:
                proc.done.set()
                return
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
