"""A simulated network: nodes by address, links with latency, jitter, loss and cuts, all
randomness from one seed. Messages cross it as bytes and are parsed again on arrival, as on
a real wire (``wire="bytes"``, the default), or as message objects (``wire="objects"``: each
receiver gets its own copy, nothing is serialised or parsed; for fleets, where the parser
is not what is under test and costs half the time). Delivery goes through the event loop's
timers, so under the virtual-time loop an hour of traffic takes milliseconds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from endpoint.aio.tls import TlsPeer, refused
from endpoint.core.rfc3263 import TIMEOUT, DnsAnswer, DnsQuery
from endpoint.sip.errors import ParseError
from endpoint.sip.events import Address, Outgoing
from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message
from lab.faults.toxics import LinkState, Toxic, applies, apply
from lab.net.wire import Deliver, Payload, Wire, decode, encode
from lab.sim.schedule import Engine
from lab.sim.transportstate import TransportState

SIM_CA = "sim:geolab-lab-ca"  # the simulated lab's CA, as a connection's tls_ca names it
# a TLS handshake's own cost over the round trips it takes (TCP's and TLS 1.3's): the
# cryptography, as `geolab bench endpoint` measures it on loopback
TLS_HANDSHAKE_CPU = 0.002
CONNECT_TIMEOUT = 5.0  # a connect that gets no answer fails after this long (as Sockets')


@dataclass
class Link:
    latency: float = 0.001
    jitter: float = 0.0
    loss: float = 0.0  # 0..1, per datagram (UDP only)
    cut: bool = False

    def __init__(  # written out: compiled code then builds one natively
        self, latency: float = 0.001, jitter: float = 0.0, loss: float = 0.0, cut: bool = False
    ) -> None:
        self.latency = latency
        self.jitter = jitter
        self.loss = loss
        self.cut = cut


class SimNetwork:
    def __init__(self, seed: int = 0, wire: Wire = "bytes") -> None:
        self.seed = seed
        self.wire = wire
        self.rng = random.Random(seed)
        self.nodes: dict[Address, Deliver] = {}
        self.links: dict[frozenset[str], Link] = {}
        self.default = Link()
        self.sites: set[str] = set()  # site addresses: site-to-site paths are never hurt
        self.isolated: set[str] = set()  # sites cut off from everything but other sites
        self.degraded: dict[str, Link] = {}  # sites whose paths to clients are slow or lossy
        # the fault proxy's toxics on a site's path, as the real proxy applies them
        self.toxics: dict[str, list[Toxic]] = {}
        self._toxic_links: dict[tuple[Address, str], LinkState] = {}
        # what each TLS listener presents: (lab.system.certs kind, the names it is for)
        self.certificates: dict[Address, tuple[str, tuple[str, ...]]] = {}
        self.epochs: dict[Address, int] = {}  # bumped when a node attaches: a new life
        # who holds a TCP or TLS connection to a node: told when the node goes (a killed
        # site's connections close, as its host's kernel closes them)
        self.streams: dict[Address, list[Callable[[Address], None]]] = {}
        self.sent = 0
        self.dropped = 0
        # the clock a delivery is scheduled on: a discrete-event engine's (lab.sim.engine),
        # else the running asyncio loop's (virtual) timers
        self.engine: Engine | None = None
        self.state = TransportState()  # what transport-state faults made sites forget
        # the lab's DNS (lab.dns.zone.Zone.answer): a name's answer, None when it is silent
        self.dns: Callable[[str, str], DnsAnswer | None] | None = None

    def run_on(self, engine: Engine) -> None:
        """Deliver this network's messages through a discrete-event engine."""
        self.engine = engine

    def attach(self, address: Address, deliver: Deliver) -> None:
        self.nodes[address] = deliver
        self.epochs[address] = self.epochs.get(address, 0) + 1

    def handshake_time(self, src: Address, dst: Address) -> float:
        """A TLS connection's set-up: TCP's round trip, TLS 1.3's, and the cryptography."""
        return 4 * self.link(src[0], dst[0]).latency + TLS_HANDSHAKE_CPU

    def verify(self, dest: Address, peer: TlsPeer | None) -> str:
        """Why ``dest``'s certificate is refused by a client that trusts ``peer``'s CA and
        wants its name (in the words a real handshake's failure gets), or "" if it is not."""
        kind, names = self.certificates.get(dest, ("valid", ()))
        name = peer.server_name if peer is not None else dest[0]
        if kind == "wrong_ca" or peer is None or peer.ca_file != SIM_CA:
            return refused("untrusted", name)
        if kind == "expired":
            return refused("expired", name)
        if kind == "wrong_name" or name not in names:
            return refused("wrong_name", name)
        return ""

    def detach(self, address: Address) -> None:
        self.nodes.pop(address, None)
        for lost in self.streams.pop(address, []):
            self.schedule(0.0, lost, address)

    def hold_stream(self, dest: Address, lost: Callable[[Address], None]) -> None:
        """``lost(dest)`` once ``dest`` goes: a connection to it is open."""
        self.streams.setdefault(dest, []).append(lost)

    def link(self, a: str, b: str) -> Link:
        if (a in self.sites) != (b in self.sites):  # a client-to-site path
            site = a if a in self.sites else b
            if site in self.isolated:
                return Link(cut=True)
            if site in self.degraded:
                return self.degraded[site]
        if not self.links:
            return self.default
        return self.links.get(frozenset((a, b)), self.default)

    def set_link(self, a: str, b: str, link: Link) -> None:
        self.links[frozenset((a, b))] = link

    def send(self, src: Address, dst: Address, data: Payload | KeepAlive, transport: str) -> bool:
        """Put bytes, or a message, on the wire (a message is written for it as this
        network's wire carries them, once it is known to go anywhere). False means a TCP
        peer refused (nothing listens there)."""
        self.sent += 1
        if transport == "udp" and self.state.nat:
            moved = self.state.translated(src, dst, self.sites)
            if moved is None:
                self.dropped += 1
                return True
            src, dst = moved
        elif self.state.forgotten and (dst, src) in self.state.forgotten:
            self.dropped += 1  # the site's side of a connection it forgot: gone
            return True
        link = self.link(src[0], dst[0])
        if link.cut:
            self.dropped += 1
            return True  # silence, as on a cut path
        if dst not in self.nodes:
            self.dropped += 1
            return transport == "udp"  # a connection (TCP, TLS) is refused
        if transport == "udp" and link.loss and self.rng.random() < link.loss:
            self.dropped += 1
            return True
        if not isinstance(data, bytes):
            data = encode(data, self.wire)
        delay = link.latency
        if link.jitter:
            delay = max(0.0, delay + self.rng.uniform(-link.jitter, link.jitter))
        site = dst[0] if dst[0] in self.sites else src[0] if src[0] in self.sites else None
        if site in self.toxics and isinstance(data, bytes) and (src[0] in self.sites) != (
                dst[0] in self.sites):  # fmt: skip
            self._through_toxics(site, delay, data, src, dst, transport)
            return True
        if self.engine is not None:  # (schedule's first case, without passing *args on)
            self.engine.call_later(delay, self._deliver, data, src, dst, transport)
        else:
            self.schedule(delay, self._deliver, data, src, dst, transport)
        return True

    def _through_toxics(
        self, site: str, delay: float, data: bytes, src: Address, dst: Address, transport: str
    ) -> None:
        """What the fault proxy in front of ``site`` would do to ``data``: the same toxics
        (:mod:`lab.faults.toxics`), toward the site ``upstream``, from it ``downstream``."""
        stream = "upstream" if dst[0] == site else "downstream"
        client = src if stream == "upstream" else dst
        link = self._toxic_links.setdefault((client, stream), LinkState())
        now = self.engine.now if self.engine is not None else asyncio.get_running_loop().time()
        toxics = [t for t in self.toxics[site] if applies(t.type, transport)]
        out = apply(toxics, data, stream, now, link, per_unit_toxicity=True)
        if not out.deliveries and out.reply is None:
            self.dropped += 1
        for extra, chunk in out.deliveries:
            self.schedule(delay + extra, self._deliver, chunk, src, dst, transport)
        if out.reply is not None:  # answered by the proxy itself, from the site's address
            self.schedule(delay * 2, self._deliver, out.reply, dst, src, transport)

    def schedule(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Call ``fn(*args)`` after ``delay`` on the clock that drives this network."""
        if self.engine is not None:
            self.engine.call_later(delay, fn, *args)
        else:
            asyncio.get_running_loop().call_later(delay, fn, *args)

    def _deliver(self, data: Payload, src: Address, dst: Address, transport: str) -> None:
        target = self.nodes.get(dst)
        if target is None:
            return
        if (self.isolated or self.links) and self.link(src[0], dst[0]).cut:  # cut in flight
            return
        target(data, src, transport)


SECURE = ("tls", "wss")  # a TLS handshake before the first message (wss: then the upgrade)

class SimSockets:
    """What :class:`endpoint.aio.sockets.Sockets` offers, on a :class:`SimNetwork`."""

    def __init__(
        self,
        network: SimNetwork,
        host: str,
        port: int,
        transports: tuple[str, ...],
        *,
        on_message: Callable[[Message, Address, str], None],
        on_failure: Callable[..., None],
        on_keepalive: Callable[[KeepAlive, Address, str], None] | None = None,
        on_lost: Callable[[Address, str], None] | None = None,
        tls_peer: Callable[[Address], TlsPeer | None] | None = None,
    ) -> None:
        self.network = network
        self.host = host
        self.port = port or 5060
        self.transports = transports
        self.on_message = on_message
        self.on_failure = on_failure
        self.on_keepalive = on_keepalive
        self.on_lost = on_lost
        self.tls_peer = tls_peer
        self.closed = False
        self.rejected = 0
        self._tls: dict[Address, int] = {}  # TLS connections set up: the peer's life then
        self._streams: dict[Address, set[str]] = {}  # open TCP/TLS connections, by peer
        self._handshaking: dict[Address, list[Outgoing]] = {}  # what waits for one

    def open(self) -> None:
        self.network.attach((self.host, self.port), self._arrive)

    def shut(self) -> None:
        self.closed = True
        self.network.detach((self.host, self.port))

    async def start(self) -> None:
        self.open()

    async def close(self) -> None:
        self.shut()

    def connected(self, dest: Address) -> bool:
        return dest in self.network.nodes

    async def ask(self, query: DnsQuery, server: str | None, timeout: float) -> DnsAnswer:
        """A DNS question of the lab's zone, a round trip away; one it is silent to (or one
        for a system resolver, which the simulation has not) goes unanswered."""
        zone = self.network.dns
        answer = zone(query.name, query.rtype) if zone is not None and server else None
        if answer is None:
            await asyncio.sleep(timeout)
            return DnsAnswer(TIMEOUT)
        await asyncio.sleep(2 * self.network.default.latency)
        return answer

    def _arrive(self, data: Payload, source: Address, transport: str) -> None:
        if self.closed:
            return
        if isinstance(data, bytes) and data in (KeepAlive.PING.value, KeepAlive.PONG.value):
            kind = KeepAlive(data)
            if kind is KeepAlive.PING and transport != "udp":
                self.network.send((self.host, self.port), source, KeepAlive.PONG.value, transport)
            if self.on_keepalive is not None:
                self.on_keepalive(kind, source, transport)
            return
        try:
            message = decode(data, transport)
        except ParseError:
            self.rejected += 1
            return
        self.on_message(message, source, transport)

    def transmit(self, out: Outgoing) -> None:
        if self.closed:
            return
        if out.transport in SECURE and self._tls.get(out.dest) != self.network.epochs.get(
                out.dest):  # fmt: skip
            self._tls.pop(out.dest, None)
            self._handshake(out)
            return
        if out.transport != "udp" and self.network.state.forgotten and self._forgotten(out):
            return
        if not self.network.send((self.host, self.port), out.dest, out.message, out.transport):
            self._tls.pop(out.dest, None)
            self.network.schedule(0.0, self.on_failure, out.dest, out.transport)
        elif out.transport != "udp" and not isinstance(out.message, KeepAlive):
            held = self._streams.get(out.dest)
            if held is None:
                held = self._streams[out.dest] = set()
                self.network.hold_stream(out.dest, self._lost)
            held.add(out.transport)
            self.network.state.stream_clients.setdefault(out.dest, set()).add(
                (self.host, self.port))

    def drop_connection(self, dest: Address) -> None:
        """Our connection to ``dest`` closed: the next message opens a new one."""
        self._tls.pop(dest, None)
        self._streams.pop(dest, None)
        self.network.state.forgotten.pop(((self.host, self.port), dest), None)

    def _forgotten(self, out: Outgoing) -> bool:
        """Whether ``out`` goes over a connection its site forgot: lost, and (``reset``)
        the connection closed a round trip later, as the site's reset reaches us."""
        key = ((self.host, self.port), out.dest)
        forgotten = self.network.state.forgotten
        mode = forgotten.get(key)
        if mode is None:
            return False
        if mode == "reset":
            del forgotten[key]
            self._tls.pop(out.dest, None)
            transports = self._streams.pop(out.dest, set())
            rtt = 2 * self.network.link(self.host, out.dest[0]).latency
            for transport in sorted(transports):
                self.network.schedule(rtt, self._reset, out.dest, transport)
        return True

    def _reset(self, dest: Address, transport: str) -> None:
        if not self.closed and self.on_lost is not None:
            self.on_lost(dest, transport)

    def _lost(self, dest: Address) -> None:
        """The peer at ``dest`` went: each connection to it closed (as a real socket's
        reading end finds it closed)."""
        self._tls.pop(dest, None)
        for transport in sorted(self._streams.pop(dest, set())):
            if not self.closed and self.on_lost is not None:
                self.on_lost(dest, transport)

    def _handshake(self, out: Outgoing) -> None:
        """A TLS connection to ``out.dest`` first (a keep-alive never opens one): refused
        at once where nothing listens, after the connect timeout where the path is cut,
        else set up after its round trips, or refused for its certificate."""
        dest = out.dest
        if dest in self._handshaking:
            self._handshaking[dest].append(out)
            return
        if isinstance(out.message, KeepAlive) or dest not in self.network.nodes:
            self.network.schedule(0.0, self.on_failure, dest, out.transport)
            return
        self._handshaking[dest] = [out]
        if self.network.link(self.host, dest[0]).cut:
            self.network.schedule(CONNECT_TIMEOUT, self._handshaken, dest, False)
        else:
            delay = self.network.handshake_time((self.host, self.port), dest)
            self.network.schedule(delay, self._handshaken, dest, True)

    def _handshaken(self, dest: Address, answered: bool) -> None:
        waiting = self._handshaking.pop(dest, [])
        if self.closed:
            return
        transport = waiting[0].transport if waiting else "tls"
        if not answered or dest not in self.network.nodes:
            self.on_failure(dest, transport)
            return
        why = self.network.verify(dest, self.tls_peer(dest) if self.tls_peer else None)
        if why:
            self.on_failure(dest, transport, why)
            return
        self._tls[dest] = self.network.epochs[dest]
        for out in waiting:
            self.transmit(out)
