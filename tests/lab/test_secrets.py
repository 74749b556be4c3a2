"""The digest password never appears on a command line, sits only in files only their
owner reads, and cannot write Kamailio script."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.sites.base import SiteSpec
from lab.sites.kamailio import cfg_string, render_config
from lab.system.procs import processes_mentioning

pytestmark = pytest.mark.interop
SECRET = 'S3cr3t-"x\\y'


def test_the_password_is_on_no_command_line(backend: str) -> None:
    async def main() -> tuple[list[int], list[Path], list[int]]:
        async with Lab(LabConfig(backend=backend, password=SECRET)) as lab:
            mine = processes_mentioning(str(lab.workdir))
            assert mine  # the lab's own processes, found by their folder
            leaking = processes_mentioning(SECRET)
            forms = (SECRET.encode(), cfg_string(SECRET).encode())  # as is, or escaped
            files = [p for p in lab.workdir.rglob("*") if p.is_file()
                     and any(f in p.read_bytes() for f in forms)]  # fmt: skip
            modes = [stat.S_IMODE(p.stat().st_mode) | stat.S_IMODE(p.parent.stat().st_mode)
                     for p in files]  # fmt: skip
            return leaking, files, modes

    leaking, files, modes = asyncio.run(main())
    assert leaking == []
    assert files  # the site needs it somewhere: in files only their owner reads
    assert all(mode & 0o077 == 0 for mode in modes), modes
    assert not any(path.exists() for path in files)  # and removed with the lab


def test_a_password_cannot_end_its_kamailio_string(tmp_path: Path) -> None:
    cfg = render_config(SiteSpec(name="a", ip="127.0.0.1", password=SECRET), tmp_path)
    (line,) = [x for x in cfg.splitlines() if "pv_auth_check" in x]
    assert 'pv_auth_check("$td", "S3cr3t-\\"x\\\\y", "0", "1")' in line
    with pytest.raises(LabError):
        SiteSpec(name="a", ip="127.0.0.1", password="x\n}exit;")
    with pytest.raises(LabError):
        SiteSpec(name="../x", ip="127.0.0.1")
