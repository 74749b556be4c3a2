"""Faults the fault proxy applies (its toxics, its ports closed), and their undoing."""

from __future__ import annotations

import contextlib

from lab.errors import LabError
from lab.faults.client import ToxiproxyClient
from lab.faults.kinds import FORGETTING, FaultKind, forget_mode
from lab.faults.toxics import applies, fault_specs
from lab.labs.interface import FaultRecord
from lab.sites.base import Site


class ProxyFaults:
    """The lab's faults on its proxies, per protocol's API (TCP may be a real Toxiproxy).
    TLS crosses its own TCP proxy ("<site>-tls"), ws and wss theirs ("<site>-ws", "<site>-wss"):
    the TCP faults apply to them, the SIP-aware ones cannot (they would have to read what
    TLS encrypts, or make WebSocket frames anew)."""

    def __init__(self, apis: dict[str, ToxiproxyClient]) -> None:
        self.apis = apis
        self.protocols = tuple(apis)  # "udp", "tcp" and, where sites speak them, tls, ws, wss
        self.closed: dict[tuple[str, str], set[int]] = {}  # (site, protocol) -> faults

    async def ports(
        self, name: str, *, up: bool, why: int, protocols: tuple[str, ...] | None = None
    ) -> None:
        """The site's ports on the fault proxy closed (``up`` False) for fault ``why``, or
        open again once the last fault that closed them is healed."""
        for protocol in protocols or self.protocols:
            closing = self.closed.setdefault((name, protocol), set())
            (closing.discard if up else closing.add)(why)
            await self.apis[protocol].set_enabled(f"{name}-{protocol}", not closing)

    async def site_dead(self, name: str, *, dead: bool, why: int) -> None:
        """A killed or stopped site's TCP port closes on the proxy too: a dead site's host
        refuses a connection (RST), and so must the proxy in front of it (else connecting
        to the proxy would succeed and then hang where connecting to the site fails at
        once). Its UDP port stays open, so what the endpoint sends to the dead site is
        still recorded; the ICMP port unreachable a dead host would send is not."""
        streams = tuple(p for p in self.protocols if p != "udp")
        await self.ports(name, up=not dead, why=why, protocols=streams)

    async def apply(self, record: FaultRecord) -> None:
        name, kind, p = record.site, record.kind, record.params
        proxies = {protocol: f"{name}-{protocol}" for protocol in self.protocols}
        if kind is FaultKind.DOWN:  # the proxy refuses: TCP connects reset, UDP dropped
            await self.ports(name, up=False, why=record.id)
            record.undo["disabled"] = list(proxies.items())
            return
        if kind in FORGETTING:
            await self._forget(record)
            return
        protocols = [p["transport"]] if "transport" in p else list(self.protocols)
        added = []
        real_toxiproxy_tcp = self.apis["tcp"] is not self.apis["udp"]
        for spec in fault_specs(record.id, kind, dict(p)):
            toxic_type = spec["type"]
            for protocol in protocols:
                if protocol not in proxies:
                    raise LabError(f"site {name!r} has no {protocol} proxy")
                stream = protocol != "udp"  # TCP, and TLS over TCP
                sip_aware = toxic_type.startswith("sip_")
                why_not = None
                if protocol in ("tls", "wss") and sip_aware:
                    why_not = f"{protocol}: SIP toxics cannot read TLS"  # said: the drill asked
                elif protocol == "ws" and sip_aware:
                    why_not = "ws: SIP toxics do not act inside WebSocket frames"
                elif not applies(toxic_type, protocol):
                    continue  # a datagram fault on a stream, or the other way round
                elif stream and real_toxiproxy_tcp and sip_aware:
                    why_not = f"{protocol}: Toxiproxy has no SIP toxics"
                if why_not is not None:
                    skipped = record.undo.setdefault("skipped", [])
                    if why_not not in skipped:
                        skipped.append(why_not)
                    continue
                typ, attributes = toxic_type, spec["attributes"]
                if stream and protocol != "ws" and real_toxiproxy_tcp and toxic_type == "drop":
                    typ, attributes = "timeout", {"timeout": 0}  # Toxiproxy's blackhole
                await self.apis[protocol].add_toxic(
                    proxies[protocol], typ, name=spec["name"], stream=spec["stream"],
                    toxicity=spec["toxicity"], **attributes,
                )  # fmt: skip
                added.append((protocol, proxies[protocol], spec["name"]))
        if not added:
            raise LabError(f"fault {kind!r} applies to no proxy of site {name!r}")
        record.undo["toxics"] = added

    async def _forget(self, record: FaultRecord) -> None:
        """A transport-state fault: the site's proxies forget their connections (or UDP
        flows) at once; nothing is left to heal."""
        mode = forget_mode(record.kind, record.params)
        protocols = ["udp"] if mode == "rebind" else [p for p in self.protocols if p != "udp"]
        if mode != "rebind" and self.apis["tcp"] is not self.apis["udp"]:
            raise LabError(f"fault {record.kind.value!r} needs geolab's fault proxy for "
                           "TCP (Toxiproxy's API cannot make a proxy forget)")  # fmt: skip
        for protocol in protocols:
            await self.apis[protocol].forget(f"{record.site}-{protocol}", mode)

    async def heal(self, record: FaultRecord) -> None:
        if record.undo.get("disabled"):
            await self.ports(record.site, up=True, why=record.id)
        for protocol, proxy, toxic in record.undo.get("toxics", []):
            with contextlib.suppress(LabError):
                await self.apis[protocol].remove_toxic(proxy, toxic)


FRONT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061, "ws": 5062, "wss": 5063}


async def open_fronts(
    apis: dict[str, ToxiproxyClient], site: Site, ip: str
) -> dict[str, tuple[str, int]]:
    """The site's proxies on ``ip`` ("<site>-<transport>"), one per transport both the site
    and the lab's proxies carry: their addresses by transport. TLS and wss cross as TCP, ws
    as ws (the proxy reads the SIP inside its frames)."""
    fronts: dict[str, tuple[str, int]] = {}
    for transport, port in FRONT_PORTS.items():
        address = site.address_for(transport)
        if transport not in apis or address is None:
            continue
        protocol = transport if transport in ("udp", "tcp", "ws") else "tcp"
        await apis[transport].create_proxy(
            f"{site.spec.name}-{transport}", f"{ip}:{port}", "{}:{}".format(*address),
            protocol=protocol,
        )  # fmt: skip
        fronts[transport] = (ip, port)
    return fronts
