from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.sites.containers import docker_client


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "state"
    monkeypatch.setenv("GEOLAB_STATE_DIR", str(path))
    yield path


@pytest.fixture(autouse=True)
def engine() -> None:
    """A container engine, or a skip (a failure where GEOLAB_REQUIRE_COMPOSE=1, as in CI)."""
    try:
        docker_client().images.get("geolab/site:latest")
    except (LabError, Exception) as exc:
        if os.environ.get("GEOLAB_REQUIRE_COMPOSE") == "1":
            pytest.fail(f"compose tests must run here but the engine is not ready: {exc}")
        pytest.skip(f"no container engine with geolab/site (sudo compose/engine.sh up): {exc}")
