"""``geolab doctor`` on this machine with pieces hidden: each missing piece named, with what
it makes N/A and how to install it; exit 1 only when the drill library cannot run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.run import doctor
from lab.run.doctor import library_uses

SEEN = ("sipp", "nft", "chromium", "certutil", "kamailio")  # what stays on PATH


def _path_without_baresip(tmp_path: Path) -> str:
    folder = tmp_path / "bin"
    folder.mkdir()
    for program in SEEN:
        found = shutil.which(program) or (f"/usr/sbin/{program}"
                                          if os.access(f"/usr/sbin/{program}", os.X_OK) else None)
        if found:  # fmt: skip
            (folder / program).symlink_to(found)
    return str(folder)


def test_a_hidden_baresip_is_named_with_what_it_costs_and_the_library_still_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", _path_without_baresip(tmp_path))
    code = main(["doctor"])
    out = capsys.readouterr().out
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("-- baresip"))
    assert "no baresip on PATH" in lines[at]
    assert "without it: driver baresip: every drill N/A" in lines[at + 1]
    assert "install: apt-get install -y baresip" in lines[at + 2]
    assert code == 0 and "the drill library can run here" in out


def test_kamailio_without_its_tls_module_cannot_run_the_library(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(doctor, "kamailio_binary", lambda: "/usr/sbin/kamailio")
    monkeypatch.setattr(doctor, "tls_module_installed", lambda: False)
    monkeypatch.setattr(doctor, "websocket_module_installed", lambda: True)
    code = main(["doctor"])
    out = capsys.readouterr().out
    tls = len(library_uses().tls)
    assert f"without it: TLS and wss on Kamailio sites: {tls} drill(s): " in out
    assert "install: apt-get install -y kamailio-tls-modules" in out
    assert code == 1
    assert "the drill library cannot run here: Kamailio's TLS module missing" in out


def test_without_kamailio_its_modules_do_not_matter(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GEOLAB_KAMAILIO", "none")  # (how a lab is told Kamailio is not here)
    monkeypatch.setattr(doctor, "tls_module_installed", lambda: False)
    code = main(["doctor"])
    out = capsys.readouterr().out
    assert "-- Kamailio" in out and "the library runs on the embedded sites" in out
    assert "TLS module" not in out and code == 0


def test_what_the_library_s_drills_need() -> None:
    uses = library_uses()
    assert {"site-a-killed-tls", "pong-timeout-tls", "tls-certificate-refused"} <= set(uses.tls)
    assert {"site-a-killed-ws", "pong-timeout-ws", "both-sites-down-ws"} <= set(uses.ws)
    assert "site-a-killed" not in uses.tls + uses.ws
    assert uses.kernel == ()  # no library drill uses a kernel fault
