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
    """``localhost`` (from /etc/hosts: no query leaves the machine) is found by the system's
    resolver: the connection sends to its address."""
    import asyncio

    async def main() -> list[dict[str, object]]:
        ip = allocate_address()
        site = EmbeddedSite(SiteSpec(name="a", ip=ip, port=5060), tmp_path / "site")
        await site.start()
        try:
            cfg = tmp_path / "endpoint.yaml"
            cfg.write_text(yaml.safe_dump({"connections": [
                {"user": "5001", "server": "localhost:5060", "domain": ip,
                 "transaction_timeout": 1}]}))  # fmt: skip
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "endpoint", "--config", str(cfg),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            assert proc.stdout is not None and proc.stdin is not None
            async with asyncio.timeout(15):  # found, and its REGISTER answered or not
                while json.loads(await proc.stdout.readline()).get("status") not in (
                        "Available", "Unavailable"):
                    pass
            proc.stdin.write(b'{"cmd": "connections"}\n{"cmd": "quit"}\n')
            await proc.stdin.drain()
            out, _ = await asyncio.wait_for(proc.communicate(), 15)
            return [json.loads(line) for line in out.decode().splitlines()]
        finally:
            await site.stop()

    events = asyncio.run(main())
    (snap,) = [e for e in events if e["event"] == "Connections"]
    assert snap["connections"][0]["server"] == "localhost:5060"  # type: ignore[index]
    assert snap["connections"][0]["address"] == "127.0.0.1:5060"  # type: ignore[index]


@pytest.mark.interop
def test_a_name_that_does_not_resolve_is_a_site_that_is_down_not_a_config_error(
    tmp_path: Path,
) -> None:
    """Asked of a DNS server (the lab's, on loopback) that answers NXDOMAIN for site A's
    name: the process runs, that connection is Unavailable naming the DNS failure, and the
    connection to site B registers; once the name resolves, A's connection registers too."""
    import asyncio

    from lab.dns.server import DnsServer
    from lab.dns.spec import DnsSpec
    from lab.dns.zone import DnsFault, Zone

    async def main() -> list[dict[str, object]]:
        sites = {n: EmbeddedSite(SiteSpec(name=n, ip=allocate_address(), port=5060),
                                 tmp_path / n) for n in ("a", "b")}  # fmt: skip
        for site in sites.values():
            await site.start()
        spec = DnsSpec.model_validate({"ttl": 1, "names": {"a.geolab.test": {"targets": [
            {"site": "a"}]}}})  # fmt: skip
        zone = Zone(spec, ("a", "b"), ("udp",), lambda s, t: (sites[s].spec.ip, 5060))
        zone.faults["a"] = DnsFault("nxdomain")
        try:
            async with DnsServer(zone, "127.0.0.1") as server:
                cfg = tmp_path / "endpoint.yaml"
                cfg.write_text(yaml.safe_dump({
                    "dns_server": "{}:{}".format(*server.address),
                    "connections": [
                        {"user": "5001", "server": "a.geolab.test", "retry_interval": 1},
                        {"user": "5002", "server": sites["b"].spec.ip}]}))  # fmt: skip
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "endpoint", "--config", str(cfg),
                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                )  # fmt: skip
                assert proc.stdout is not None and proc.stdin is not None
                seen: list[dict[str, object]] = []
                async with asyncio.timeout(15):
                    while True:
                        event = json.loads(await proc.stdout.readline())
                        seen.append(event)
                        if event.get("status") == "Unavailable":
                            zone.faults.clear()  # the name resolves again
                        if event.get("connection") == 0 and event.get("status") == "Available":
                            break
                proc.stdin.write(b'{"cmd": "quit"}\n')
                await proc.stdin.drain()
                await asyncio.wait_for(proc.wait(), 10)
                return seen
        finally:
            for site in sites.values():
                await site.stop()

    events = asyncio.run(main())
    statuses = [(e.get("connection"), e.get("status"), e.get("reason")) for e in events
                if e.get("event") == "ConnectionStatusChanged"]  # fmt: skip
    assert (0, "Unavailable", "DNS a.geolab.test: NXDOMAIN") in statuses
    assert (1, "Available", "registered") in statuses
    assert statuses[-1][:2] == (0, "Available")
