"""``python -m endpoint``: JSON-lines in, JSON-lines out, against real Kamailio sites."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.sites.kamailio import KamailioSite
from lab.sites.probe import options_ping

from .test_kamailio import registered_contacts

pytestmark = pytest.mark.interop
Factory = Callable[..., KamailioSite]


class EndpointProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []
        self.unclaimed: list[dict[str, Any]] = []  # read, not yet matched by an expect()

    async def send(self, line: str | dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        text = line if isinstance(line, str) else json.dumps(line)
        self.proc.stdin.write(text.encode() + b"\n")
        await self.proc.stdin.drain()

    async def expect(self, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
        assert self.proc.stdout is not None

        def matches(event: dict[str, Any]) -> bool:
            return all(event.get(k) == v for k, v in fields.items())

        for event in self.unclaimed:
            if matches(event):
                self.unclaimed.remove(event)
                return event
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.proc.stdout.readline()
                    assert raw, f"process ended; saw {self.seen}"
                    event = json.loads(raw)  # every stdout line must be JSON
                    self.seen.append(event)
                    if matches(event):
                        return event
                    self.unclaimed.append(event)
        except TimeoutError:
            raise AssertionError(f"no event {fields} within {timeout}s; saw {self.seen}") from None


def test_process_protocol(kamailio_site: Factory, tmp_path: Path) -> None:
    a, b = kamailio_site("a"), kamailio_site("b")
    cfg = tmp_path / "endpoint.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "connections": [
                    {
                        "user": "5001",
                        "server": f"{s.spec.ip}:{s.spec.port}",
                        "protocol": "UDP",
                        "transaction_timeout": 1.0,
                    }
                    for s in (a, b)
                ]
            }
        )
    )

    async def main() -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "endpoint",
            "--config",
            str(cfg),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        ep = EndpointProcess(proc)
        try:
            ready = await ep.expect(event="Ready")
            host, port = ready["local"].rsplit(":", 1)
            for conn in (0, 1):
                ev = await ep.expect(
                    event="ConnectionStatusChanged", connection=conn, status="Available"
                )
                assert ev["previous"] == "Registering" and isinstance(ev["t"], float)
            await ep.send("this is not json")
            assert "not JSON" in (await ep.expect(event="Error"))["message"]
            await ep.send({"cmd": "fly"})
            assert "unknown command" in (await ep.expect(event="Error"))["message"]
            await ep.send({"cmd": "dial", "connection": "zero", "destination": "6001"})
            assert "'connection' must be an integer" in (await ep.expect(event="Error"))["message"]
            await ep.send({"cmd": "dial", "connection": 9, "destination": "6001"})
            assert "no connection 9" in (await ep.expect(event="Error"))["message"]
            # malformed SIP on the endpoint's socket is dropped; the endpoint keeps working
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(b"INVITE <nonsense> SIP/2.0\r\n\r\n", (host, int(port)))
            assert await options_ping(host, int(port)) == 200
            await ep.send({"cmd": "connections"})
            snap = await ep.expect(event="Connections")
            assert [c["status"] for c in snap["connections"]] == ["Available", "Available"]
            # a DN nobody registered: the site answers 404, a SipError that is not a site-down sign
            await ep.send({"cmd": "dial", "connection": 0, "destination": "7777"})
            sid = (await ep.expect(event="Dialed"))["session"]
            end = await ep.expect(event="SessionStatusChanged", session=sid, status="Disconnected")
            assert end["code"] == 404 and end["reason"].startswith("SipError 404")
            assert end["connection_id"] == 0
            await ep.send({"cmd": "disable_connection", "connection": 1})
            await ep.expect(event="ConnectionStatusChanged", connection=1, status="Disabled")
            assert "5001" not in registered_contacts(b)  # unregistered on disable
            await ep.send({"cmd": "quit"})
            await ep.expect(event="Stopped")
            assert await asyncio.wait_for(proc.wait(), 5) == 0
            assert "5001" not in registered_contacts(a)  # unregistered on quit
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()

    asyncio.run(main())


def test_bad_config_file_is_a_clear_error(tmp_path: Path) -> None:
    cfg = tmp_path / "SipEndpoint.config"
    cfg.write_text(
        '<x>\n<Container name="Basic">\n<Connectivity user="" server="h"/>\n</Container></x>'
    )

    async def main() -> tuple[int, bytes]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "endpoint",
            "--config",
            str(cfg),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await proc.communicate()
        return proc.returncode or 0, err

    code, err = asyncio.run(main())
    assert code == 2
    assert f"{cfg}:3: Connectivity[0]: attribute 'user' is missing or empty" in err.decode()
    assert b"Traceback" not in err
