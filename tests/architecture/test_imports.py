"""The import rules of docs/architecture.md, checked on the source itself: every import
counts, at the top of a module, inside a function or under TYPE_CHECKING."""

from __future__ import annotations

import ast
import statistics
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("endpoint", "lab", "bench")
IO_AND_CLOCK = {"asyncio", "socket", "time", "threading", "selectors", "select", "datetime",
                "subprocess", "multiprocessing"}  # fmt: skip
STATE_TABLES = {"endpoint/sip/transaction.py"}  # the transaction machines' tables


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imports_of(path: Path) -> Iterator[str]:
    """Every module an import in ``path`` names (``from a import b`` names ``a``, and
    ``a.b`` where that is a module)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for alias in node.names:
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}"


def graph() -> dict[str, set[str]]:
    return {name: {m for m in imports_of(path) if m in MODULES and m != name}
            for name, path in MODULES.items()}  # fmt: skip


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_one() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_endpoint_never_imports_the_lab_or_the_benchmarks() -> None:
    bad = {name: sorted(m for m in deps if m.split(".")[0] in ("lab", "bench"))
           for name, deps in graph().items() if name.startswith("endpoint")}  # fmt: skip
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_lab_never_imports_the_benchmarks() -> None:
    bad = {name: sorted(m for m in deps if m.startswith("bench"))
           for name, deps in graph().items() if name.startswith("lab")}  # fmt: skip
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.mark.parametrize("core", ["endpoint.sip", "endpoint.core"])
def test_the_sans_io_cores_do_no_io_and_read_no_clock(core: str) -> None:
    offenders = {}
    for name, path in MODULES.items():
        if name == core or name.startswith(core + "."):
            top = {m.split(".")[0] for m in imports_of(path)}
            if top & IO_AND_CLOCK:
                offenders[name] = sorted(top & IO_AND_CLOCK)
    assert offenders == {}


def test_the_simulation_is_reached_only_through_the_factory() -> None:
    """Outside lab/sim, only the factory imports lab.sim: everything else holds a lab
    through the lab interface and never asks which one it is."""
    reach = {name for name, deps in graph().items()
             if name.startswith("lab.") and not name.startswith("lab.sim")
             and any(m == "lab.sim" or m.startswith("lab.sim.") for m in deps)}  # fmt: skip
    assert reach == {"lab.run.factory"}


def test_the_real_lab_is_built_only_by_the_factory_for_a_drill() -> None:
    """The runner, the steps, the drivers, the reports and the fleets hold a lab through
    its interface; only the factory picks the real one (the CLI's `geolab up` and the
    pytest plugin's lab fixture build one of their own)."""
    users = {name for name, deps in graph().items()
             if name.startswith(("lab.run", "lab.fleet", "lab.steps", "lab.stream", "lab.report",
                                 "lab.drivers", "lab.drill", "lab.sim"))
             and "lab.real.lab" in deps}  # fmt: skip
    assert users == {"lab.run.factory"}


def test_module_sizes() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in MODULES.values()}
    assert statistics.median(sizes.values()) < 200
    over = {p: n for p, n in sizes.items() if n > 400 and p not in STATE_TABLES}
    assert over == {}
