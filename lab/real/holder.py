"""``python -m lab.real.holder``: keeps a lab up for a manual drill (``geolab up``) and takes
commands (fault, heal, status, down) as JSON lines on a unix socket next to its state
file. Every action goes to the journal (``journal.jsonl`` in the lab's folder); with
``record`` (``geolab up --record``) the lab's events and every unit the fault proxies relay
go to ``session.jsonl`` beside it, from which ``geolab down`` writes the session's report
(:mod:`lab.run.manual`)."""

from __future__ import annotations

import signal

if __name__ == "__main__":  # SIGINT and SIGTERM wait until main() takes them: one that came
    # during the imports below could be swallowed there (pydantic ignores an exception raised
    # while it builds a schema) and the lab would then stay up for good
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})

import argparse
import asyncio
import json
import logging
import sys
import threading
from pathlib import Path
from typing import IO, Any

from lab.errors import LabError
from lab.faults.watch import WireObservation, line_of
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.stream.events import LabEvent

log = logging.getLogger("lab.real.holder")
SESSION = "session.jsonl"  # a recorded session (geolab up --record), in the lab's folder


class Holder:
    def __init__(self, lab: Lab, *, record: bool = False) -> None:
        self.lab = lab
        self.done = asyncio.Event()
        self.journal = lab.workdir / "journal.jsonl"
        self.session: IO[str] | None = None
        self.heard = asyncio.Event()  # the proxies' record said something
        if record:  # the session's record: the lab's events and the wire through the proxies
            self.session = (lab.workdir / SESSION).open("a", encoding="utf-8")
            lab.listeners.append(self._lab_event)
            lab.wire_observers.append(self._wire)

    def _lab_event(self, event: LabEvent) -> None:
        if self.session is not None:
            self.session.write(json.dumps({"lab": event.to_json()}) + "\n")

    async def settled(self, quiet: float = 0.2, most: float = 2.0) -> None:
        """Until the proxies' record has been quiet for ``quiet`` s (at most ``most``): the
        record streams on a connection of its own, with no end to wait for, and what the
        proxies relayed last must be in the session's record before the lab stops."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + most
        while loop.time() < deadline:  # (what waits in the stream is read meanwhile)
            self.heard.clear()
            try:
                await asyncio.wait_for(self.heard.wait(), quiet)
            except TimeoutError:
                return

    def _wire(self, seen: WireObservation) -> None:
        self.heard.set()
        if self.session is not None:  # (in the proxy's own form: lab.faults.watch)
            self.session.write(f'{{"wire": {line_of(seen).decode()}}}\n')

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None

    def record(self, entry: dict[str, Any]) -> None:
        with self.journal.open("a") as f:
            f.write(json.dumps({"t": self.lab.now, **entry}) + "\n")

    def status(self) -> dict[str, Any]:
        return {
            "id": self.lab.id,
            "backend": self.lab.backend,
            "workdir": str(self.lab.workdir),
            "sites": {
                n: {
                    "address": f"{s.spec.ip}:{s.spec.port}",
                    "state": s.state.value,
                    "target": "{}:{}".format(*self.lab.target(n)),
                    **({"tls_target": "{}:{}".format(*self.lab.target(n, "tls"))}
                       if s.tls_address is not None else {}),
                }
                for n, s in self.lab.sites.items()
            },
            "tls_ca": self.lab.tls_ca(),  # what a TLS endpoint is to trust
            "faults": [r.to_json() for r in self.lab.journal],
        }

    async def command(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd.get("cmd")
        if name == "fault":
            record = await self.lab.apply(
                str(cmd["kind"]), str(cmd["site"]), **cmd.get("params", {})
            )
            self.record({"action": "fault", **record.to_json()})
            return {"ok": True, "fault": record.to_json()}
        if name == "heal":
            healed = []
            for record in self.lab.journal:
                if record.healed_at is None and cmd.get("id") in (None, record.id):
                    await self.lab.heal(record)
                    self.record({"action": "heal", **record.to_json()})
                    healed.append(record.to_json())
            return {"ok": True, "healed": healed}
        if name == "status":
            return {"ok": True, **self.status()}
        if name == "down":
            self.done.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {name!r}"}

    async def client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                reply = await self.command(json.loads(line))
            except (LabError, KeyError, TypeError, ValueError) as exc:
                reply = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()


async def serve(
    config: LabConfig, stopping: threading.Event | None = None, *, record: bool = False
) -> int:
    """Keep a lab up until ``down``, SIGTERM or SIGINT (``stopping``: one already came);
    ``record``: the session's record in the lab's folder (``session.jsonl``)."""
    lab = Lab(config)
    loop = asyncio.get_running_loop()
    holder = Holder(lab, record=record)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, holder.done.set)
    if stopping is not None and stopping.is_set():
        holder.done.set()  # asked to stop while starting: start, then stop at once
    async with lab:
        sock = Path(lab.state.path).with_suffix(".sock")
        sock.unlink(missing_ok=True)
        server = await asyncio.start_unix_server(holder.client, path=str(sock))
        lab.state.control = str(sock)
        lab.state.save()
        holder.record({"action": "up", **holder.status()})
        print(json.dumps({"event": "Ready", **holder.status()}), flush=True)
        try:
            await holder.done.wait()
            if record:
                await holder.settled()
        finally:
            server.close()
            sock.unlink(missing_ok=True)
            holder.record({"action": "down"})
    holder.close()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.real.holder")
    parser.add_argument("--config", required=True, help="LabConfig as JSON, or - for stdin")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    data = json.loads(sys.stdin.read() if args.config == "-" else args.config)
    if data.get("workdir"):
        data["workdir"] = Path(data["workdir"])
    record = bool(data.pop("record", False))
    # From here on a signal only asks the holder to stop (the loop takes them over in
    # serve): no KeyboardInterrupt or cancellation lands in the middle of the lab's start,
    # where asyncio (3.11) can lose a cancellation and leave the lab up for good.
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})  # (held ones land)
    try:
        return asyncio.run(serve(LabConfig(**data), stopping, record=record))
    except LabError as exc:
        print(json.dumps({"event": "Error", "message": str(exc)}), flush=True)
        return 3


if __name__ == "__main__":
    sys.exit(main())
