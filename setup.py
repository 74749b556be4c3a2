"""Building a wheel compiles the core with mypyc (as mypy and black ship theirs): the same
modules ``python -m endpoint.compile build`` compiles in place (:mod:`endpoint.compiled`),
with the manifest the installed package checks them against. An sdist, an editable
install, ``GEOLAB_PURE_WHEEL=1`` or a machine where the compiler fails give the sources
alone; geolab says so once when it starts. Everything else is in pyproject.toml."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


def _compiled() -> Any:
    """endpoint/compiled.py, loaded by itself (the package's __init__ would guard)."""
    path = HERE / "endpoint" / "compiled.py"
    spec = importlib.util.spec_from_file_location("_geolab_compiled", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _extensions() -> list[Any]:
    if "bdist_wheel" not in sys.argv or os.environ.get("GEOLAB_PURE_WHEEL") == "1":
        return []
    try:
        from mypyc.build import mypycify  # noqa: PLC0415 (a wheel's build alone needs it)
    except ImportError:
        print("geolab: mypyc is not installed: the wheel carries the sources alone")
        return []
    compiled = _compiled()
    here = Path.cwd()
    os.chdir(HERE)
    try:
        return list(mypycify([str(s) for s in compiled.sources(HERE)], opt_level="3",
                             group_name=compiled.GROUP))
    finally:
        os.chdir(here)


EXTENSIONS = _extensions()


class BuildPy(build_py):
    """The package, and with compiled modules the manifest of the sources they are of."""

    def run(self) -> None:
        super().run()
        if EXTENSIONS:
            compiled = _compiled()
            manifest = {
                "python": sys.implementation.cache_tag,
                "sources": {str(s): compiled.digest(s, HERE) for s in compiled.sources(HERE)},
            }
            target = Path(self.build_lib) / "endpoint" / compiled.MANIFEST.name
            target.write_text(json.dumps(manifest, indent=1) + "\n")


class BuildExt(build_ext):
    """The compiled core, or, where the C compiler fails, none (the sources run)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils' CompileError and LinkError, a missing compiler
            print(f"geolab: the core did not compile ({exc}): the wheel carries the sources")
            self.extensions = []
            manifest = Path(self.build_lib) / "endpoint" / "geolab__mypyc.json"
            manifest.unlink(missing_ok=True)


setup(ext_modules=EXTENSIONS, cmdclass={"build_py": BuildPy, "build_ext": BuildExt})
