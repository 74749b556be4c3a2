"""``geolab adapter check``: geolab's own endpoint and the pjsua2 adapter hold to the
protocol; a deliberately broken adapter (``data/broken_adapter.py``) fails, each of its
defects named; nothing the check starts is left running."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.system.procs import processes_mentioning

BROKEN = Path(__file__).parent / "data" / "broken_adapter.py"
pytestmark = pytest.mark.interop


def checked(capsys: pytest.CaptureFixture[str], *command: str) -> tuple[int, dict[str, bool]]:
    code = main(["adapter", "check", *command])
    out = capsys.readouterr().out
    items = {}
    for line in out.splitlines():
        if line.startswith("  [held  ] "):
            items[line[11:]] = True
        elif line.startswith("  [FAILED] "):
            items[line[11:]] = False
    return code, items


def test_geolab_s_endpoint_holds_to_the_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code, items = checked(capsys, sys.executable, "-m", "endpoint")
    assert code == 0, [k for k, v in items.items() if not v]
    assert len(items) >= 30 and all(items.values())
    assert any(k.startswith("drives: SessionStatusChanged session=out status=OnHold") for k in items)


def broken(tmp_path: Path) -> Path:
    """The broken adapter under a path of this test's own (what it leaves is found by it)."""
    return Path(shutil.copy(BROKEN, tmp_path / "broken_adapter.py"))


def test_a_broken_adapter_fails_with_each_defect_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    adapter = broken(tmp_path)
    code, items = checked(capsys, sys.executable, str(adapter))
    assert code == 1
    failed = {k for k, held in items.items() if not held}
    assert "writes only JSON objects naming their event on stdout" in failed  # the banner
    assert "exactly one status event per change" in failed  # each status said twice
    assert "answers a line that is not JSON with an Error naming the line, and goes on" in failed
    assert sum(k.startswith("answers ") and k.endswith("and goes on") for k in failed) == 9
    assert "stops at quit: says Stopped and exits 0" in failed
    assert "says Ready, with its local address (host:port)" not in failed  # what holds, holds
    assert "registers every connection of its SipEndpoint.config (Available)" not in failed
    assert processes_mentioning(str(adapter)) == []


def test_an_adapter_that_drops_a_command_fails_on_that_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    adapter = broken(tmp_path)
    monkeypatch.setenv("BROKEN", "hold")  # only the hold command is never passed on
    code, items = checked(capsys, sys.executable, str(adapter))
    assert code == 1
    failed = sorted(k for k, held in items.items() if not held)
    # the protocol held; the call was never held, and the drill stopped where the endpoint
    # refused to resume a call that was not on hold
    assert failed == ["drives: SessionStatusChanged session=out status=OnHold within 2.000s of "
                      + failed[0].rpartition(" of ")[2], "runs a drill through the process driver"]
    assert processes_mentioning(str(adapter)) == []


def test_a_command_that_does_not_exist_fails_the_check_at_its_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, items = checked(capsys, "/nonexistent/adapter")
    assert code == 1
    assert items == {"starts with --config FILE": False}
