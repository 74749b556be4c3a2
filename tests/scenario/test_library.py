"""Every drill of the library passes on the embedded backend too (the plugin runs them
on the scenario's own backend, Kamailio where installed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.run.runner import run_scenario
from lab.scenario import load_scenario

LIBRARY = sorted(Path(__file__).parents[2].joinpath("scenarios").glob("*.yaml"))
pytestmark = pytest.mark.interop


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_drill_passes_on_embedded(path: Path) -> None:
    result = asyncio.run(run_scenario(load_scenario(path), backend="embedded"))
    failures = [
        f"{path}:{e.line}: expected {e.expected}; observed {e.observed}" for e in result.failures
    ]
    assert result.passed, "\n".join(failures + result.errors)
    assert result.backend == "embedded"
