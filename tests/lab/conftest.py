from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.sites.kamailio import kamailio_binary


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Each test keeps its lab state files apart (parallel workers never see each other's)."""
    path = tmp_path / "state"
    monkeypatch.setenv("GEOLAB_STATE_DIR", str(path))
    yield path


@pytest.fixture(params=["kamailio", "embedded"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "kamailio" and kamailio_binary() is None:
        pytest.skip("kamailio is not installed (apt-get install -y kamailio)")
    return str(request.param)
