"""The sans-I/O core compiled with mypyc, and the pure-Python code as its fallback.

``python -m endpoint.compile build`` compiles :data:`MODULES` (the SIP core, the phone's
logic, the simulation's engine, network and sites, a storm's meter, and the one adapter
that hands a real fleet's every datagram to a core, ``PhoneFleet``) into extension modules
next to their sources, one mypyc group whose shared library is
``endpoint/geolab__mypyc*.so``, and
writes a manifest of the sources it compiled. ``clean`` removes them; ``status`` says
which code runs.

Python imports an extension module before a source file of the same name, so a build
left behind by an edit would run old code. :func:`guard` (called by the ``endpoint`` and
``lab`` packages before any of these modules loads) therefore loads the sources instead
when the manifest does not match them, when there is no manifest, or when
``GEOLAB_PURE=1`` asks for it — always all of them or none: compiled modules of one group
call each other directly, not through imports.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
GROUP = "endpoint.geolab"
MANIFEST = ROOT / "endpoint" / "geolab__mypyc.json"
PACKAGES = ("endpoint/sip", "endpoint/core")
# left to their sources: the phone's events are read back from timelines by their type
# annotations, which a compiled class keeps only in part (``X | None`` becomes ``type``)
LEFT_OUT = ("endpoint/core/events.py",)
MODULES_OUTSIDE = (
    "lab/sim/engine.py",
    "lab/sim/schedule.py",
    "lab/sim/network.py",
    "lab/sim/site.py",
    "lab/sites/embedded/core.py",
    "lab/net/wire.py",
    "lab/fleet/stormmeter.py",
    "endpoint/aio/fleet.py",
)

log = logging.getLogger("geolab.compiled")


def sources(root: Path = ROOT) -> list[Path]:
    """The source files compiled, relative to the checkout."""
    found = [
        p.relative_to(root)
        for package in PACKAGES
        for p in sorted((root / package).glob("*.py"))
        if p.name != "__init__.py" and str(p.relative_to(root)) not in LEFT_OUT
    ]
    return found + [Path(p) for p in MODULES_OUTSIDE]


def module_name(source: Path) -> str:
    return ".".join(source.with_suffix("").parts)


MODULES = frozenset(module_name(s) for s in sources())


def digest(source: Path, root: Path = ROOT) -> str:
    return hashlib.sha256((root / source).read_bytes()).hexdigest()


def built(root: Path = ROOT) -> list[Path]:
    """Every extension module under ``endpoint/`` and ``lab/``: a build's (one per compiled
    module and its shared library) and any an older build left."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return sorted(
        p
        for top in ("endpoint", "lab")
        for p in (root / top).rglob("*.so")
        if p.name.endswith(suffixes)
    )


def extension_module(path: Path, root: Path = ROOT) -> str:
    """``endpoint/sip/layer.cpython-311-x86_64-linux-gnu.so`` -> ``endpoint.sip.layer``."""
    relative = path.relative_to(root)
    return ".".join((*relative.parent.parts, relative.name.split(".")[0]))


def verdict(root: Path = ROOT, pure: str | None = None) -> str:
    """Why the pure-Python code runs, or "" when the compiled modules are to be used."""
    pure = os.environ.get("GEOLAB_PURE", "") if pure is None else pure
    if pure not in ("", "0"):
        return "GEOLAB_PURE is set"
    extensions = built(root)
    if not extensions:
        return "not compiled (python -m endpoint.compile build)"
    manifest_file = root / MANIFEST.relative_to(ROOT)
    try:
        manifest = json.loads(manifest_file.read_text())
        recorded: dict[str, str] = dict(manifest["sources"])
        python = str(manifest["python"])
    except (OSError, ValueError, KeyError, TypeError):
        return f"the build has no readable manifest ({manifest_file.name})"
    if python != sys.implementation.cache_tag:
        return f"the build is for {python}, not {sys.implementation.cache_tag}"
    compiled = sources(root)
    for source in compiled:
        if recorded.get(str(source)) != digest(source, root):
            return f"the build is stale: {source} changed since it was compiled"
    expected = {module_name(s) for s in compiled} | {GROUP + "__mypyc"}
    if set(recorded) != {str(s) for s in compiled} or expected != {
        extension_module(p, root) for p in extensions
    }:
        return "the build is stale: the set of compiled modules changed"
    return ""


class PureFinder(importlib.abc.MetaPathFinder):
    """Finds the source file of every compiled module, ahead of its extension module."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.names:
            return None
        source = ROOT.joinpath(*fullname.split(".")).with_suffix(".py")
        if not source.exists():
            return None  # the group's shared library: nothing pure imports it
        return importlib.util.spec_from_file_location(fullname, source)


_state: list[str] = []


def guard() -> None:
    """Decide once per process whether the compiled modules may load."""
    if _state:
        return
    why = verdict()
    _state.append(why)
    if why:
        extensions = built()
        sys.meta_path.insert(0, PureFinder(MODULES | {extension_module(p) for p in extensions}))
        if not why.startswith("GEOLAB_PURE"):  # said once, at start-up
            log.warning("running the pure-Python core: %s", why)


def describe() -> str:
    """Which code runs, for the benchmarks' and ``status``'s output."""
    guard()
    module = sys.modules.get("endpoint.sip.layer") or importlib.import_module("endpoint.sip.layer")
    where = module.__file__ or ""
    if where.endswith(".py"):
        return f"pure Python ({_state[0]})"
    return f"compiled with mypyc ({len(MODULES)} modules)"
