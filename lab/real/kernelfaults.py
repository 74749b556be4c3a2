"""A real lab's kernel faults: one nftables table of its own, made at the first such
fault (and noted in the lab's state, so ``geolab cleanup`` finds it), dropping a share of
a site's packets or all of them; deleted with the lab."""

from __future__ import annotations

from lab.errors import LabError
from lab.faults.kernel import NftTable, nft_available
from lab.faults.kinds import KINDS
from lab.labs.interface import FaultRecord
from lab.system.state import LabState


class KernelFaults:
    def __init__(self, lab_id: str, state: LabState) -> None:
        self.name = f"geolab_{lab_id.replace('-', '_')}"
        self.state = state
        self.nft: NftTable | None = None

    async def apply(self, record: FaultRecord, ip: str) -> None:
        reason = await nft_available()
        if reason is not None:
            raise LabError(f"kernel faults are not available: {reason}")
        if self.nft is None:
            self.nft = NftTable(self.name)
            self.state.nft_tables = [self.nft.name]
            self.state.save()
        percent = 100 if KINDS[record.kind].outage else int(record.params.get("percent", 10))
        direction = record.params.get("direction")
        record.undo["handles"] = await self.nft.drop(
            ip, percent=percent, direction=str(direction) if direction else None
        )

    async def heal(self, record: FaultRecord) -> None:
        assert self.nft is not None
        await self.nft.remove(record.undo["handles"])

    async def delete(self) -> None:
        if self.nft is not None:
            await self.nft.delete()
            self.nft = None
            self.state.nft_tables = []
