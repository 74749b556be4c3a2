"""Kernel faults with nftables: drop or randomly lose a site's traffic on ``lo``.

Rules live in the lab's own table (``inet geolab_<lab id>``), one input chain; deleting the
table heals everything. Needs root and the ``nft`` binary; :func:`nft_available` says
why not when they are missing. This kernel has no ``netem``: delay stays in the proxy.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil

from lab.errors import LabError

_HANDLE = re.compile(r"# handle (\d+)")


async def _nft(*args: str, stdin: str | None = None) -> str:
    proc = await asyncio.create_subprocess_exec(
        "nft",
        *args,
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(stdin.encode() if stdin else None)
    if proc.returncode != 0:
        raise LabError(f"nft {' '.join(args)} failed: {err.decode().strip()}")
    return out.decode()


async def nft_available() -> str | None:
    """None when kernel faults can be used, else the reason they cannot."""
    if shutil.which("nft") is None:
        return "the nft binary is missing (apt-get install -y nftables)"
    if os.geteuid() != 0:
        return "kernel faults need root"
    try:
        await _nft("list", "tables")
    except LabError as exc:
        return str(exc)
    return None


class NftTable:
    def __init__(self, name: str) -> None:
        if not re.fullmatch(r"geolab_[A-Za-z0-9_]+", name):
            raise ValueError(f"table name {name!r} must look like geolab_<id>")
        self.name = name
        self.created = False

    async def create(self) -> None:
        script = (
            f"table inet {self.name} {{\n"
            "  chain input { type filter hook input priority -10; policy accept; }\n"
            "}\n"
        )
        await _nft("-f", "-", stdin=script)
        self.created = True

    async def _rule(self, rule: str) -> list[int]:
        if not self.created:
            await self.create()
        args = ("--echo", "--handle", "add", "rule", "inet", self.name, "input", *rule.split())
        out = await _nft(*args)
        return [int(h) for h in _HANDLE.findall(out)]

    async def drop(self, ip: str, *, percent: int = 100, direction: str | None = None
                   ) -> list[int]:  # fmt: skip
        """Drop (or randomly lose ``percent`` %) everything to and from ``ip`` (or only
        ``to_site``, only ``from_site``)."""
        if not 0 < percent <= 100:
            raise ValueError(f"percent must be 1..100, got {percent}")
        lose = "" if percent == 100 else f"numgen random mod 100 < {percent} "
        handles = []
        if direction in (None, "to_site"):
            handles += await self._rule(f'iifname "lo" ip daddr {ip} {lose}counter drop')
        if direction in (None, "from_site"):
            handles += await self._rule(f'iifname "lo" ip saddr {ip} {lose}counter drop')
        return handles

    async def remove(self, handles: list[int]) -> None:
        for handle in handles:
            await _nft("delete", "rule", "inet", self.name, "input", "handle", str(handle))

    async def delete(self) -> None:
        if self.created:
            await delete_table(self.name)
            self.created = False


async def delete_table(name: str) -> None:
    try:
        await _nft("delete", "table", "inet", name)
    except LabError as exc:
        if "No such file" not in str(exc):
            raise


async def geolab_tables() -> list[str]:
    out = await _nft("list", "tables")
    return [line.split()[-1] for line in out.splitlines() if line.split()[-1].startswith("geolab_")]
