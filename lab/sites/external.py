"""A site the lab does not own (a staging SIP Server, say): it can be pinged and every
network fault through the fault proxy works, but it cannot be killed or restarted."""

from __future__ import annotations

from lab.errors import LabError
from lab.sites.base import Site, SiteSpec


class ExternalSite(Site):
    backend = "external"

    def __init__(self, spec: SiteSpec) -> None:
        super().__init__(spec)

    def _refuse(self, what: str) -> LabError:
        where = f"{self.spec.ip}:{self.spec.port}"
        return LabError(
            f"site {self.name!r} is external ({where}): it cannot be {what}",
            hint="use a network fault (down, partition, latency, loss …) through the fault proxy",
        )

    async def _launch(self) -> None:
        await self.wait_ready(timeout=5.0)

    async def _terminate(self) -> None:
        pass  # nothing of ours runs there

    async def _kill(self) -> None:
        raise self._refuse("killed")

    async def _hang(self) -> None:
        raise self._refuse("hung")

    async def _resume(self) -> None:
        raise self._refuse("resumed")

    async def restart(self) -> None:
        raise self._refuse("restarted")
