"""The wheel carries the compiled core: built from this checkout (mypyc compiling the same
modules ``python -m endpoint.compile build`` does, with their manifest) and installed into
a fresh virtual environment, the installed package runs compiled code, not its sources.
A wheel built without the compiler (``GEOLAB_PURE_WHEEL=1``, as where none is found) runs
the sources and says so once as geolab starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from endpoint.compiled import MODULES, ROOT

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")

ASK = ("from endpoint.compiled import describe; import endpoint.sip.layer as l; "
       "print(describe()); print(l.__file__)")  # fmt: skip


def _wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "src"  # a copy without the in-place build (as a clean checkout)
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        "*.so", "geolab__mypyc.json", "build", "reports", ".git", "node_modules", "dist",
        "__pycache__", "*.egg-info", ".mypy_cache", ".pytest_cache", ".geolab*"))  # fmt: skip
    out = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
         "-q", "-w", str(out)], env={**os.environ, **env}, check=True, timeout=600,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = out.glob("geolab-*.whl")
    return wheel


def _installed(tmp_path: Path, wheel: Path) -> Path:
    """A fresh venv seeing this interpreter's packages for the dependencies, the wheel in
    its own site-packages (ahead of the checkout's editable install)."""
    home = tmp_path / "venv"
    venv.create(home, system_site_packages=True, with_pip=False)
    python = home / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--ignore-installed", str(wheel)],
                   check=True, timeout=300, capture_output=True)  # fmt: skip
    return python


def _ask(python: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEOLAB_")}
    return subprocess.run([str(python), "-c", ASK], cwd=tmp_path, env=env, text=True,
                          capture_output=True, check=True, timeout=60)  # fmt: skip


def test_the_wheel_runs_the_compiled_core(tmp_path: Path) -> None:
    python = _installed(tmp_path, _wheel(tmp_path, {}))
    done = _ask(python, tmp_path)
    said, where = done.stdout.split("\n")[:2]
    assert said == f"compiled with mypyc ({len(MODULES)} modules)"
    assert where.startswith(str(tmp_path / "venv")) and where.endswith(".so")
    assert "pure-Python" not in done.stderr


def test_a_wheel_without_the_compiler_runs_the_sources_and_says_so_once(tmp_path: Path) -> None:
    python = _installed(tmp_path, _wheel(tmp_path, {"GEOLAB_PURE_WHEEL": "1"}))
    done = _ask(python, tmp_path)
    said, where = done.stdout.split("\n")[:2]
    assert said.startswith("pure Python (not compiled")
    assert where.startswith(str(tmp_path / "venv")) and where.endswith(".py")
    assert done.stderr.count("running the pure-Python core: not compiled") == 1
