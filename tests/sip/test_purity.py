"""The protocol core does no I/O and reads no clock: it imports none of these."""

from __future__ import annotations

import ast
from pathlib import Path

import endpoint.sip

FORBIDDEN = {"asyncio", "socket", "time", "threading", "selectors", "select", "datetime"}
CORE = Path(endpoint.sip.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_modules_exist() -> None:
    assert len(list(CORE.glob("*.py"))) >= 10


def test_no_core_module_imports_io_or_clock() -> None:
    offenders = {
        path.name: sorted(imported_modules(path) & FORBIDDEN) for path in sorted(CORE.glob("*.py"))
    }
    assert {name: mods for name, mods in offenders.items() if mods} == {}


def test_the_check_would_catch_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom time import monotonic\nimport asyncio.events\n")
    assert imported_modules(bad) & FORBIDDEN == {"time", "asyncio"}
