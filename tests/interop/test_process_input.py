"""``python -m endpoint`` survives what its input can be: no input, a file, over-long and
malformed commands, and configs whose values must never reach the wire."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab.sites.base import SiteSpec
from lab.sites.embedded.site import EmbeddedSite
from lab.system.net import allocate_address


def config(tmp_path: Path, **conn: object) -> Path:
    path = tmp_path / "endpoint.yaml"
    item = {"user": "5001", "server": "127.0.0.1:9", "retry_interval": 60, **conn}
    path.write_text(yaml.safe_dump({"connections": [item]}))
    return path


def run(cfg: Path, stdin: object, timeout: float = 20) -> tuple[int, list[dict[str, object]], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "endpoint", "--config", str(cfg)],
        stdin=stdin, capture_output=True, timeout=timeout, check=False,
    )  # fmt: skip
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]  # all JSON
    return proc.returncode, events, proc.stderr.decode()


def test_no_input_at_all_stops_cleanly(tmp_path: Path) -> None:
    with open("/dev/null", "rb") as devnull:
        code, events, err = run(config(tmp_path), devnull)
    assert code == 0 and "Traceback" not in err
    assert "Ready" in [e["event"] for e in events] and events[-1]["event"] == "Stopped"


def test_commands_from_a_regular_file_then_the_end(tmp_path: Path) -> None:
    commands = tmp_path / "commands.jsonl"
    commands.write_text('{"cmd": "connections"}\n{"cmd": "quit"}\n')
    with commands.open("rb") as f:
        code, events, err = run(config(tmp_path), f)
    assert code == 0 and "Traceback" not in err
    names = [e["event"] for e in events]
    assert "Connections" in names and names[-1] == "Stopped"


def test_over_long_deep_and_odd_commands_are_errors_and_it_goes_on(tmp_path: Path) -> None:
    lines = [
        "x" * (100 * 1024),  # over 64 KiB
        "[" * 60_000,  # nested deep (under the size limit)
        '{"cmd": "dial", "connection": 0, "destination": Infinity}',
        '{"cmd": "dial", "connection": 0, "destination": "6001\\r\\nX-Evil: 1"}',
        "\udcff garbage \x00",
        '{"cmd": "connections"}',
        '{"cmd": "quit"}',
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
    proc = subprocess.run(
        [sys.executable, "-m", "endpoint", "--config", str(config(tmp_path))],
        input=data, capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr
    events = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    errors = [str(e["message"]) for e in events if e["event"] == "Error"]
    assert any("over 65536 bytes" in m for m in errors)
    assert any("nested too deep" in m for m in errors)
    assert any("Infinity is not a number" in m for m in errors)
    assert any("is not a SIP user" in m for m in errors)
    assert len(errors) == 5
    assert [e["event"] for e in events][-2:] == ["Connections", "Stopped"]


@pytest.mark.parametrize(
    ("conn", "expected"),
    [
        ({"reg_interval": float("inf")}, "reg_interval"),
        ({"reg_interval": 1e300}, "reg_interval"),
        ({"user": "5001\r\nX-Evil: 1"}, "user"),
        ({"server": "[::1]:5060"}, "IPv6 is not supported"),
        ({"protocol": "UDP", "sips": True}, "sips applies to protocol TLS only"),
        ({"server": "bad host:5060"}, "server"),
    ],
)
def test_configs_whose_values_must_not_reach_the_wire(
    tmp_path: Path, conn: dict[str, object], expected: str
) -> None:
    with open("/dev/null", "rb") as devnull:
        code, events, err = run(config(tmp_path, **conn), devnull)
    assert code == 2 and "Traceback" not in err and events == []
    assert str(tmp_path / "endpoint.yaml") in err and expected in err


@pytest.mark.interop
def test_a_site_named_by_host_name_is_resolved_off_the_loop(tmp_path: Path) -> None:
    """``localhost`` (from /etc/hosts: no query leaves the machine) registers."""
    import asyncio

    async def main() -> list[dict[str, object]]:
        ip = allocate_address()
        site = EmbeddedSite(SiteSpec(name="a", ip=ip, port=5060), tmp_path / "site")
        await site.start()
        try:
            cfg = tmp_path / "endpoint.yaml"
            cfg.write_text(yaml.safe_dump({"connections": [
                {"user": "5001", "server": "localhost:5060", "domain": ip}]}))  # fmt: skip
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "endpoint", "--config", str(cfg),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdin is not None
            proc.stdin.write(b'{"cmd": "connections"}\n{"cmd": "quit"}\n')
            await proc.stdin.drain()
            out, _ = await asyncio.wait_for(proc.communicate(), 15)
            return [json.loads(line) for line in out.decode().splitlines()]
        finally:
            await site.stop()

    events = asyncio.run(main())
    (snap,) = [e for e in events if e["event"] == "Connections"]
    assert snap["connections"][0]["server"].startswith("127.0.0.1:")  # type: ignore[index]
