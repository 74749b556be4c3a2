"""The compiled core (mypyc) and its pure-Python fallback: which one loads, and when a
build may not be used."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from endpoint import compiled
from endpoint.compiled import MODULES, digest, sources, verdict

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def fake_build(root: Path) -> None:
    """A tree with every compiled module's source, an extension file for each and a
    manifest that matches them."""
    for source in sources():
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_text(f"# {source}\n")
        (root / source.with_suffix(SUFFIX)).write_bytes(b"")
    (root / "endpoint" / f"geolab__mypyc{SUFFIX}").write_bytes(b"")
    manifest = {
        "python": sys.implementation.cache_tag,
        "sources": {str(s): digest(s, root) for s in sources(root)},
    }
    (root / "endpoint" / "geolab__mypyc.json").write_text(json.dumps(manifest))


def test_a_matching_build_is_used(tmp_path: Path) -> None:
    fake_build(tmp_path)
    assert verdict(tmp_path, pure="") == ""


def test_no_build_runs_the_sources(tmp_path: Path) -> None:
    fake_build(tmp_path)
    for so in tmp_path.rglob(f"*{SUFFIX}"):
        so.unlink()
    assert verdict(tmp_path, pure="").startswith("not compiled")


def test_an_edited_source_makes_the_whole_build_stale(tmp_path: Path) -> None:
    fake_build(tmp_path)
    edited = tmp_path / "endpoint" / "sip" / "layer.py"
    edited.write_text(edited.read_text() + "# edited\n")
    assert verdict(tmp_path, pure="") == (
        "the build is stale: endpoint/sip/layer.py changed since it was compiled"
    )


def test_a_new_module_makes_the_build_stale(tmp_path: Path) -> None:
    fake_build(tmp_path)
    (tmp_path / "endpoint" / "sip" / "added.py").write_text("")
    assert "stale" in verdict(tmp_path, pure="")


def test_an_extension_an_older_build_left_makes_it_stale(tmp_path: Path) -> None:
    fake_build(tmp_path)
    (tmp_path / "endpoint" / "core" / f"events{SUFFIX}").write_bytes(b"")
    assert verdict(tmp_path, pure="") == "the build is stale: the set of compiled modules changed"


def test_a_build_for_another_python_or_without_manifest_is_not_used(tmp_path: Path) -> None:
    fake_build(tmp_path)
    manifest = tmp_path / "endpoint" / "geolab__mypyc.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "python": "cpython-99"}))
    assert verdict(tmp_path, pure="") == (
        f"the build is for cpython-99, not {sys.implementation.cache_tag}"
    )
    manifest.write_text("[1, 2")
    assert "no readable manifest" in verdict(tmp_path, pure="")
    manifest.unlink()
    assert "no readable manifest" in verdict(tmp_path, pure="")


def test_geolab_pure_wins_over_a_good_build(tmp_path: Path) -> None:
    fake_build(tmp_path)
    assert verdict(tmp_path, pure="1") == "GEOLAB_PURE is set"
    assert verdict(tmp_path, pure="0") == ""


def loaded(env: dict[str, str]) -> list[str]:
    code = (
        "import sys, lab.sim.engine, endpoint.sip.layer, endpoint.core.phone\n"
        f"print('\\n'.join(sys.modules[m].__file__ for m in {sorted(MODULES)!r}"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
        text=True, check=True, timeout=60,
    )  # fmt: skip
    return done.stdout.split()


def test_the_build_command_says_what_it_takes() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "endpoint.compile", "frobnicate"], capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "usage: python -m endpoint.compile [build | clean | status]" in done.stderr
    status = subprocess.run(
        [sys.executable, "-m", "endpoint.compile", "status"], capture_output=True,
        text=True, timeout=60, check=True,
    )  # fmt: skip
    why = verdict()
    assert status.stdout.strip() == (f"pure Python ({why})" if why else
                                     f"compiled with mypyc ({len(MODULES)} modules)")  # fmt: skip


def test_geolab_pure_loads_every_source() -> None:
    files = loaded({"GEOLAB_PURE": "1"})
    assert len(files) > 20
    assert all(f.endswith(".py") for f in files), files


def test_the_suite_runs_what_it_was_asked_to() -> None:
    """Where CI built the core (GEOLAB_REQUIRE_COMPILED=1) the suite must be running it:
    every module compiled, none left to its source; a stale build would fail here."""
    if os.environ.get("GEOLAB_REQUIRE_COMPILED") != "1":
        pytest.skip("the compiled core is not required here (GEOLAB_REQUIRE_COMPILED)")
    assert compiled.verdict() == ""
    files = loaded({"GEOLAB_PURE": ""})
    assert len(files) > 20
    assert all(f.endswith(SUFFIX) for f in files), files
    assert sys.modules["endpoint.sip.layer"].__file__.endswith(SUFFIX)  # this process too
