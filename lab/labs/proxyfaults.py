"""Faults the fault proxy applies (its toxics, its ports closed), and their undoing."""

from __future__ import annotations

import contextlib

from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.faults.toxics import TCP_ONLY, UDP_ONLY, fault_specs
from lab.labs.interface import FaultRecord


class ProxyFaults:
    """The lab's faults on its proxies, per protocol's API (TCP may be a real Toxiproxy)."""

    def __init__(self, apis: dict[str, ToxiproxyClient]) -> None:
        self.apis = apis
        self.closed: dict[tuple[str, str], set[int]] = {}  # (site, protocol) -> faults

    async def ports(
        self, name: str, *, up: bool, why: int, protocols: tuple[str, ...] = ("udp", "tcp")
    ) -> None:
        """The site's ports on the fault proxy closed (``up`` False) for fault ``why``, or
        open again once the last fault that closed them is healed."""
        for protocol in protocols:
            closing = self.closed.setdefault((name, protocol), set())
            (closing.discard if up else closing.add)(why)
            await self.apis[protocol].set_enabled(f"{name}-{protocol}", not closing)

    async def site_dead(self, name: str, *, dead: bool, why: int) -> None:
        """A killed or stopped site's TCP port closes on the proxy too: a dead site's host
        refuses a connection (RST), and so must the proxy in front of it (else connecting
        to the proxy would succeed and then hang where connecting to the site fails at
        once). Its UDP port stays open, so what the endpoint sends to the dead site is
        still recorded; the ICMP port unreachable a dead host would send is not."""
        await self.ports(name, up=not dead, why=why, protocols=("tcp",))

    async def apply(self, record: FaultRecord) -> None:
        name, kind, p = record.site, record.kind, record.params
        proxies = {"udp": f"{name}-udp", "tcp": f"{name}-tcp"}
        if kind == "down":  # the proxy refuses: TCP connects reset, UDP dropped
            await self.ports(name, up=False, why=record.id)
            record.undo["disabled"] = list(proxies.items())
            return
        protocols = [p["transport"]] if "transport" in p else ["udp", "tcp"]
        added = []
        real_toxiproxy_tcp = self.apis["tcp"] is not self.apis["udp"]
        for spec in fault_specs(record.id, kind, dict(p)):
            toxic_type = spec["type"]
            for protocol in protocols:
                if (protocol == "tcp" and toxic_type in UDP_ONLY) or (
                    protocol == "udp" and toxic_type in TCP_ONLY
                ):
                    continue
                if protocol == "tcp" and real_toxiproxy_tcp and toxic_type.startswith("sip_"):
                    skipped = record.undo.setdefault("skipped", [])
                    if "tcp: Toxiproxy has no SIP toxics" not in skipped:
                        skipped.append("tcp: Toxiproxy has no SIP toxics")
                    continue
                typ, attributes = toxic_type, spec["attributes"]
                if protocol == "tcp" and real_toxiproxy_tcp and toxic_type == "drop":
                    typ, attributes = "timeout", {"timeout": 0}  # Toxiproxy's blackhole
                await self.apis[protocol].add_toxic(
                    proxies[protocol], typ, name=spec["name"], stream=spec["stream"],
                    toxicity=spec["toxicity"], **attributes,
                )  # fmt: skip
                added.append((protocol, proxies[protocol], spec["name"]))
        if not added:
            raise LabError(f"fault {kind!r} applies to no proxy of site {name!r}")
        record.undo["toxics"] = added

    async def heal(self, record: FaultRecord) -> None:
        if record.undo.get("disabled"):
            await self.ports(record.site, up=True, why=record.id)
        for protocol, proxy, toxic in record.undo.get("toxics", []):
            with contextlib.suppress(LabError):
                await self.apis[protocol].remove_toxic(proxy, toxic)
