"""Exit codes as documented: a drill the lab could not carry out is a lab error (3), with
the reason in the report, not a failed drill (1)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop
DRILL = Path(__file__).parents[2] / "scenarios" / "both-sites-register.yaml"


def test_a_lab_that_cannot_start_is_exit_3(tmp_path: Path) -> None:
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    run = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "run", str(DRILL), "--backend", "compose",
         "--report-dir", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    (summary,) = (tmp_path / "r").glob("*/summary.md")
    assert "error: lab error:" in summary.read_text()


def test_an_endpoint_config_naming_no_site_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "ep.yaml").write_text("connections:\n  - {user: '5001', server: c}\n")
    drill = tmp_path / "drill.yaml"
    drill.write_text("name: x\nendpoint: {config: ep.yaml}\nsteps:\n  - sleep: 1s\n")
    run = subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "validate", str(drill)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert f"{drill}:2: endpoint.config: connection 0: server 'c' is not a site" in run.stderr
