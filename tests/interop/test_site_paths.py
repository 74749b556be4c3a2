"""A site whose folder is too deep for a unix socket path still runs (Kamailio's control
socket moves to a short path, and is removed with the site)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from lab.sites.base import SiteSpec
from lab.sites.kamailio import SUN_PATH_MAX, KamailioSite, control_socket, kamailio_binary
from lab.sites.probe import options_ping
from lab.system.net import allocate_address

pytestmark = pytest.mark.interop


def test_a_kamailio_site_in_a_deep_folder(tmp_path: Path) -> None:
    if kamailio_binary() is None:
        pytest.skip("kamailio is not installed")
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(str(deep / "ctl")) > SUN_PATH_MAX
    sock = control_socket(deep)
    assert len(str(sock)) <= SUN_PATH_MAX and deep not in sock.parents

    async def main() -> int | None:
        site = KamailioSite(SiteSpec(name="a", ip=allocate_address()), deep)
        await site.start()
        try:
            assert sock.exists()
            return await options_ping(*site.address)
        finally:
            await site.stop()

    assert asyncio.run(main()) == 200
    assert not sock.exists()
