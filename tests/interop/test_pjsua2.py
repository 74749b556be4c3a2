"""PJSIP (PyPI's pjsua2-python), the stack inside many native softphones, graded by the
drill library on Kamailio through its JSON-lines adapter: its verdict per drill is pinned
in ``data/pjsua2-outcomes.yaml`` (reviewed by hand). The adapter runs in a process of its
own (PJSIP never enters geolab's); killed mid-drill, it is a lab error and nothing of it is
left; without the wheel, it says so and the run is a lab error (exit 3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lab.cli.main import main
from lab.sites.kamailio import kamailio_binary
from lab.system.procs import processes_mentioning

from .pinning import ROOT, assert_grade_is_pinned
from .test_drivers import killed_at_first_available

try:
    import pjsua2  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: F401

    HAVE_PJSUA2 = True
except ImportError:
    HAVE_PJSUA2 = False

needs_pjsua2 = pytest.mark.skipif(not HAVE_PJSUA2,
                                  reason="PJSIP's wheel is not installed (./run setup)")  # fmt: skip
pytestmark = pytest.mark.interop


@needs_pjsua2
def test_pjsua2_s_grade_on_the_library_is_the_pinned_one(tmp_path: Path) -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed")
    assert_grade_is_pinned("pjsua2", tmp_path)


@needs_pjsua2
def test_pjsua2_killed_mid_drill_is_a_lab_error_and_nothing_is_left(tmp_path: Path) -> None:
    result = killed_at_first_available(ROOT / "scenarios" / "site-a-killed-tcp.yaml",
                                       "pjsua2", tmp_path / "lab")  # fmt: skip
    assert not result.passed
    (error,) = result.errors
    assert error.startswith("lab error: endpoint (driver pjsua2: "), error
    assert "exited (code -9) while the drill ran" in error
    assert processes_mentioning(str(tmp_path / "lab")) == []


def test_without_pjsip_s_wheel_the_run_is_a_lab_error_that_says_so(tmp_path: Path) -> None:
    """The adapter as it runs where ``pjsua2`` does not import: its first word is what is
    missing, and the run ends as a lab error (exit 3), naming the driver."""
    without = ("import runpy, sys; sys.modules['pjsua2'] = None; "
               "runpy.run_module('lab.drivers.pjsua2_adapter', run_name='__main__')")  # fmt: skip
    out = tmp_path / "out"
    code = main(["run", str(ROOT / "scenarios" / "both-sites-register.yaml"), "--driver",
                 "pjsua2", "--endpoint-command", f"{sys.executable} -c \"{without}\"",
                 "--backend", "embedded", "-q", "--report-dir", str(out)])  # fmt: skip
    assert code == 3
    (folder,) = out.iterdir()
    (drill,) = json.loads((folder / "timeline.json").read_text())["scenarios"]
    (error,) = drill["errors"]
    assert "driver pjsua2" in error and "pjsua2-python is not installed" in error, error
    assert processes_mentioning(str(tmp_path)) == []


def test_pjsip_is_never_imported_into_geolab_s_process() -> None:
    probe = ("import sys, lab.drivers, lab.cli.main, lab.run.runner; "
             "print('pjsua2' in sys.modules)")  # fmt: skip
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)  # fmt: skip
    assert result.stdout.strip() == "False"


@needs_pjsua2
def test_the_pjsua2_adapter_holds_to_the_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["adapter", "check", sys.executable, "-m", "lab.drivers.pjsua2_adapter"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[FAILED]" not in out and "checks held" in out
