"""Every socket the lab opens binds to a 127.x address: SIPp's control port, the fault
proxy's API and proxies, the sites (checked with ss while a lab with parties runs)."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.labs.interface import LabConfig
from lab.parties.sipp import callee_process, sipp_binary
from lab.real.lab import Lab
from lab.system.procs import live_members

pytestmark = pytest.mark.interop


def listening(pids: set[int]) -> list[str]:
    """The local addresses sockets of ``pids`` listen or are bound on (ss -lunpt)."""
    out = subprocess.run(["ss", "-H", "-lunpt"], capture_output=True, text=True, check=True)
    found = []
    for line in out.stdout.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            found.append(line.split()[4])
    return found


def test_nothing_the_lab_starts_listens_beyond_loopback(tmp_path: Path) -> None:
    if shutil.which("ss") is None or sipp_binary() is None:
        pytest.skip("needs ss (iproute2) and SIPp")

    async def main() -> list[str]:
        async with Lab(LabConfig(backend="embedded")) as lab:
            uas, _ = callee_process(tmp_path, calls=1, timeout=20)
            await uas.start()
            try:
                assert uas.proc is not None
                pids = {uas.proc.pid, lab.faults_server.pid if lab.faults_server else 0}
                for site in lab.sites.values():
                    pids.add(site.pid)  # type: ignore[attr-defined]
                pids |= {m for p in list(pids) for m in live_members(p)}
                for _ in range(100):  # SIPp binds its control port a moment after starting
                    addrs = listening(pids)
                    if any(a.endswith(":8888") or ":88" in a for a in addrs):
                        break
                    await asyncio.sleep(0.05)
                return addrs
            finally:
                await uas.stop()

    addrs = asyncio.run(main())
    assert addrs
    assert [a for a in addrs if not a.startswith("127.")] == []
