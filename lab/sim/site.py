"""A site in the simulation: the embedded site's core on the simulated network, with the
same operations as a real site (kill forgets registrations; hang keeps them but answers
nothing until resumed). Its time comes from the running asyncio loop (the virtual-time
loop) or from a clock it is given (the discrete-event engine's)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from endpoint.sip.errors import ParseError
from endpoint.sip.events import Address
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from lab.faults.kinds import Effect
from lab.net.wire import Payload, decode
from lab.sim.network import SimNetwork
from lab.sites.base import SiteSpec, SiteState
from lab.sites.embedded.core import SiteCore


def site_specs(names: tuple[str, ...], password: str | None = None) -> dict[str, SiteSpec]:
    """Simulated sites' addresses (10.<n>.0.1), each knowing the others as peers."""
    base = {n: SiteSpec(name=n, ip=f"10.{i + 1}.0.1") for i, n in enumerate(names)}
    return {
        name: SiteSpec(
            name=name,
            ip=spec.ip,
            password=password,
            peers={s.domain: (s.ip, s.port) for n, s in base.items() if n != name},
        )
        for name, spec in base.items()
    }


_PLAIN = ("udp", "tcp")  # on the site's own port


class SimSite:
    backend = "sim"

    def __init__(
        self, spec: SiteSpec, network: SimNetwork, clock: Callable[[], float] | None = None,
        *, seed: object = 0, certificate: str = "valid",
    ) -> None:  # fmt: skip
        self.spec = spec
        self.certificate = certificate  # what it presents on TLS (lab.system.certs)
        self.network = network
        self.seed = seed  # its tags and ids, as every other choice in virtual time
        self.lives = 0
        self.clock = clock or (lambda: asyncio.get_running_loop().time())
        self.core = self._new_core()
        self.state = SiteState.DOWN
        self.hung = False
        network.sites.add(spec.ip)  # site-to-site paths are never hurt
        for secure in (self.tls_address, self.wss_address):
            network.certificates[secure] = (certificate, (spec.domain, spec.ip))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> Address:
        return (self.spec.ip, self.spec.port)

    @property
    def tls_address(self) -> Address:
        """TLS next to UDP and TCP, on the next port (as on real sites)."""
        return (self.spec.ip, self.spec.port + 1)

    @property
    def ws_address(self) -> Address:
        """SIP over WebSocket (RFC 7118) on the port after TLS's, secure WebSocket next."""
        return (self.spec.ip, self.spec.port + 2)

    @property
    def wss_address(self) -> Address:
        return (self.spec.ip, self.spec.port + 3)

    def address_for(self, transport: str) -> Address:
        return {"tls": self.tls_address, "ws": self.ws_address,
                "wss": self.wss_address}.get(transport, self.address)  # fmt: skip

    def _new_core(self) -> SiteCore:
        self.lives += 1
        return SiteCore(
            ids=IdSource(random.Random(f"site:{self.seed}:{self.spec.name}:{self.lives}")),
            name=self.spec.name,
            domain=self.spec.domain,
            address=self.address,
            password=self.spec.password,
            peers=dict(self.spec.peers),
            aliases=self.spec.aliases,
        )

    def _arrive(self, data: Payload, source: Address, transport: str) -> None:
        if self.hung:
            return
        if data == KeepAlive.PING.value:  # a CRLF ping on a connection (RFC 5626 3.5.1)
            if transport != "udp":
                here = self.address if transport in _PLAIN else self.address_for(transport)
                self.network.send(here, source, KeepAlive.PONG.value, transport)
            return
        try:
            message = decode(data, transport)
        except ParseError:
            return
        self.core.receive(message, source, transport, self.clock())
        for out in self.core.datagrams_to_send():
            source = self.address if out.transport in _PLAIN else self.address_for(out.transport)
            self.network.send(source, out.dest, out.message, out.transport)

    # --- the operations, at once (the async ones below are the Site interface) ----------
    def up(self) -> None:
        for address in (self.address, self.tls_address, self.ws_address, self.wss_address):
            self.network.attach(address, self._arrive)
        self.state, self.hung = SiteState.UP, False

    def down(self) -> None:
        for address in (self.address, self.tls_address, self.ws_address, self.wss_address):
            self.network.detach(address)
        self.core = self._new_core()  # registrations live in memory: they are gone
        self.state = SiteState.DOWN

    def take_out(self, effect: Effect) -> None:
        """An outage: a site that ends forgets its registrations, a silent one keeps them
        and answers nothing, a cut one is cut off its clients (lab.faults.kinds)."""
        if effect is Effect.ENDS:
            self.down()
        elif effect is Effect.SILENT:
            self.hung, self.state = True, SiteState.HUNG
        elif effect is Effect.CUT:
            self.network.isolated.add(self.spec.ip)
        else:
            raise ValueError(f"no simulated outage {effect}")

    def bring_back(self, effect: Effect) -> None:
        """The end of the outage ``take_out(effect)`` began."""
        if effect is Effect.ENDS:
            self.up()
        elif effect is Effect.SILENT:
            self.hung, self.state = False, SiteState.UP
        else:
            self.network.isolated.discard(self.spec.ip)

    async def start(self) -> None:
        self.up()

    async def stop(self) -> None:
        self.down()

    async def kill(self) -> None:
        self.take_out(Effect.ENDS)

    async def hang(self) -> None:
        self.take_out(Effect.SILENT)

    async def resume(self) -> None:
        self.bring_back(Effect.SILENT)

    async def restart(self) -> None:
        self.down()
        self.up()
