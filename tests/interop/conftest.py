"""Real sites for interop tests (Kamailio, embedded), started and stopped by PID."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.sites.base import SiteSpec
from lab.sites.embedded.site import EmbeddedSite
from lab.sites.kamailio import KamailioSite, kamailio_binary
from lab.sites.process import ProcessSite
from lab.system.net import allocate_address
from lab.system.procs import live_members


def _factory(cls: type[ProcessSite], tmp_path: Path) -> Iterator[Callable[..., ProcessSite]]:
    """Start sites of ``cls`` on demand; stop them after the test and check nothing is left."""
    started: list[ProcessSite] = []

    def make(name: str = "a", password: str | None = None, **kw: object) -> ProcessSite:
        spec = SiteSpec(name=name, ip=allocate_address(), password=password, **kw)  # type: ignore[arg-type]
        site = cls(spec, tmp_path / name)
        asyncio.run(site.start())
        started.append(site)
        return site

    yield make
    for site in started:
        pid = site.pid
        asyncio.run(site.stop())
        assert pid is not None and not live_members(pid), f"{site} left processes behind"


@pytest.fixture
def kamailio_site(tmp_path: Path) -> Iterator[Callable[..., ProcessSite]]:
    """Factory: ``kamailio_site(name="a", password=None)`` returns a started Kamailio site."""
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed (apt-get install -y kamailio)")
    yield from _factory(KamailioSite, tmp_path)


@pytest.fixture(params=["kamailio", "embedded"])
def any_site(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., ProcessSite]]:
    """Factory like ``kamailio_site``, once per local backend."""
    if request.param == "kamailio" and kamailio_binary() is None:
        pytest.skip("kamailio is not installed (apt-get install -y kamailio)")
    yield from _factory(KamailioSite if request.param == "kamailio" else EmbeddedSite, tmp_path)
