"""What the simulated network keeps of transport state, for the faults that make sites
forget it (as the fault proxy does, :meth:`lab.faults.proxy.Proxy.forget`): connections a
site forgot, and a NAT's mappings after a rebind."""

from __future__ import annotations

from collections.abc import Iterable

from endpoint.sip.events import Address


class TransportState:
    def __init__(self) -> None:
        # connections a site forgot: (client, site address) -> "reset" | "nothing", and
        # the clients holding a connection to each site address
        self.forgotten: dict[tuple[Address, Address], str] = {}
        self.stream_clients: dict[Address, set[Address]] = {}
        # a NAT's mappings after a rebind: (client, site ip) -> the port the site sees,
        # and back: (client ip, that port, site ip) -> the client
        self.nat: dict[tuple[Address, str], int] = {}
        self.nat_back: dict[tuple[str, int, str], Address] = {}
        self._ports = 40000

    def forget(
        self, site: str, addresses: list[Address], mode: str, clients: Iterable[Address]
    ) -> None:
        """``site`` forgets its open connections (on ``addresses``: ``reset`` or
        ``nothing``), or (``rebind``) each of ``clients``' UDP flows to it leaves from a
        new port."""
        if mode == "rebind":
            for client in clients:
                self._ports += 1
                old = self.nat.get((client, site))
                if old is not None:
                    self.nat_back.pop((client[0], old, site), None)
                self.nat[(client, site)] = self._ports
                self.nat_back[(client[0], self._ports, site)] = client
            return
        for address in addresses:
            for client in self.stream_clients.pop(address, set()):
                self.forgotten[(client, address)] = mode

    def translated(
        self, src: Address, dst: Address, sites: set[str]
    ) -> tuple[Address, Address] | None:
        """A UDP datagram's addresses across a rebound NAT (None: the mapping it was sent
        to is gone)."""
        if dst[0] in sites:
            port = self.nat.get((src, dst[0]))
            return ((src[0], port), dst) if port is not None else (src, dst)
        if src[0] in sites:
            client = self.nat_back.get((dst[0], dst[1], src[0]))
            if client is not None:
                return src, client
            if (dst, src[0]) in self.nat:
                return None  # sent to the port the NAT no longer maps
        return src, dst
