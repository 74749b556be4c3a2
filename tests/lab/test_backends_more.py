"""The external backend, a real Toxiproxy server taking the TCP proxies, and the drill
command's fallback to the embedded site."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.sites.base import SiteSpec
from lab.sites.embedded.site import EmbeddedSite
from lab.sites.probe import options_ping
from lab.system.net import allocate_address
from lab.system.procs import live_members

pytestmark = pytest.mark.interop


def test_external_site_takes_network_faults_but_not_process_faults(tmp_path: Path) -> None:
    async def main() -> None:
        staging = EmbeddedSite(
            SiteSpec(name="staging", ip=allocate_address()), tmp_path / "staging"
        )
        await staging.start()  # a server the lab does not own
        try:
            config = LabConfig(backend="external", sites=["a"], external={"a": staging.address})
            async with Lab(config) as lab:
                assert lab.site("a").backend == "external"
                assert await options_ping(*lab.target("a")) == 200
                with pytest.raises(LabError, match="external") as info:
                    await lab.apply("kill", "a")
                assert "via process needs a backend of" in str(info.value)
                async with lab.fault("down", "a"):
                    assert await options_ping(*lab.target("a"), timeout=0.6) is None
                assert await options_ping(*lab.target("a")) == 200
            assert await options_ping(*staging.address) == 200  # the lab left it running
        finally:
            await staging.stop()

    asyncio.run(main())


def test_tcp_proxies_go_to_a_toxiproxy_server_when_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No toxiproxy-server can be installed here; geolab's own server speaks the same API, so
    # a small wrapper with Toxiproxy's command line stands in for the real binary.
    shim = tmp_path / "toxiproxy-server"
    shim.write_text(
        "#!/bin/sh\n"
        'while [ $# -gt 0 ]; do case "$1" in -host) H=$2; shift 2;; -port) P=$2; shift 2;; *) shift;; esac; done\n'
        f'exec {sys.executable} -m lab.faults --api "$H:$P"\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("GEOLAB_TOXIPROXY_SERVER", str(shim))

    async def main() -> None:
        async with Lab(LabConfig(backend="embedded", sites=["a"])) as lab:
            assert lab.apis["tcp"] is not lab.apis["udp"]
            assert set(await lab.apis["tcp"].proxies()) == {"a-tcp", "a-tls", "a-wss"}  # TLS is TCP there
            assert set(await lab.apis["udp"].proxies()) == {"a-udp", "a-ws"}  # ws: SIP in frames
            assert await options_ping(*lab.target("a"), transport="tcp") == 200
            async with lab.fault("down", "a"):
                assert await options_ping(*lab.target("a"), transport="tcp", timeout=0.6) is None
                assert await options_ping(*lab.target("a"), transport="udp", timeout=0.6) is None
            async with lab.fault("sip_drop", "a", method="OPTIONS") as record:
                assert record.undo["skipped"] == ["tcp: Toxiproxy has no SIP toxics",
                                                  "tls: SIP toxics cannot read TLS",
                                                  "ws: SIP toxics do not act inside WebSocket frames",
                                                  "wss: SIP toxics cannot read TLS"]  # fmt: skip
                assert await options_ping(*lab.target("a"), transport="tcp") == 200
                assert await options_ping(*lab.target("a"), transport="udp", timeout=0.6) is None
            pid = lab.toxiproxy.pid if lab.toxiproxy else None
        assert pid is not None and live_members(pid) == []  # stopped with the lab

    asyncio.run(main())


@pytest.mark.parametrize("kamailio", ["installed", "none"])
def test_drill_command(kamailio: str) -> None:
    env = dict(os.environ)
    if kamailio == "none":
        env["GEOLAB_KAMAILIO"] = "none"  # as on a machine with only Python
    result = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "drill"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS: registered on both sites over UDP and TCP" in result.stdout
    rows = [line.split() for line in result.stdout.splitlines()[1:5]]
    assert {(r[0], r[2], r[3]) for r in rows} == {
        (s, t, "200") for s in "ab" for t in ("udp", "tcp")
    }
    expected = "embedded" if kamailio == "none" else ("kamailio" if _has_kamailio() else "embedded")
    assert {r[1] for r in rows} == {expected}


def _has_kamailio() -> bool:
    from lab.sites.kamailio import kamailio_binary

    return kamailio_binary() is not None


def test_drills_run_with_only_python(tmp_path: Path) -> None:
    """Without Kamailio and SIPp: the embedded sites and geolab's Python parties stand in."""
    env = {**os.environ, "GEOLAB_KAMAILIO": "none", "GEOLAB_SIPP": "none"}
    library = Path(__file__).parents[2] / "scenarios"
    drills = [
        str(library / f"{n}.yaml")
        for n in ("dial-failover-known-down", "inbound-via-b-while-a-down", "second-line-rings")
    ]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab.cli.main",
            "run",
            *drills,
            "-n",
            "3",
            "--report-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3 scenarios passed" in result.stdout
    (junit,) = tmp_path.glob("*/junit.xml")
    assert junit.read_text().count('name="backend" value="embedded"') == 3
