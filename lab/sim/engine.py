"""A discrete-event engine for simulations too large for an event loop: a heap of callbacks
in virtual time (:class:`~lab.sim.schedule.Engine`), nothing else. It drives the same
sans-I/O cores the asyncio runner drives (the endpoint's :class:`~endpoint.core.phone.Phone`
as a :class:`PhoneNode`; sites are :class:`~lab.sim.site.SimSite` given the engine's clock)
on the same :class:`SimNetwork`, without the per-callback cost of asyncio handles and
coroutines. Fleets and the long benchmarks run here; scenario steps, which are coroutines,
run on :mod:`lab.sim.loop`.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from endpoint.config import EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.core.phone import Phone
from endpoint.sip.events import Address
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.message import Message
from lab.fleet.stormmeter import StormMeter
from lab.sim.network import SimNetwork, SimSockets
from lab.sim.schedule import Engine

Tap = Callable[[str, Message, Address], None]


class PhoneNode:
    """One endpoint: a :class:`Phone` core on :class:`SimSockets`, its timer kept on the
    engine's heap. ``taps`` see every SIP message in and out; ``on_event`` every event."""

    def __init__(
        self,
        engine: Engine,
        network: SimNetwork,
        config: EndpointConfig,
        rng: random.Random,
    ) -> None:
        self.engine = engine
        self.sockets = SimSockets(
            network,
            config.local_host,
            config.local_port,
            ("udp", "tcp"),
            on_message=self._message,
            on_failure=self._failed,
            on_keepalive=self._keepalive,
        )
        self.core = Phone(
            config, local_host=self.sockets.host, local_port=self.sockets.port, ids=IdSource(rng)
        )
        self.taps: list[Tap] = []
        # a storm's meter sees what the phone sends and gets, as phone ``index``
        self.meter: StormMeter | None = None
        self.index = 0
        self.on_event: Callable[[PhoneEvent], None] | None = None
        self._armed: float | None = None

    def start(self) -> None:
        self.sockets.open()
        self.core.start(self.engine.now)
        self._pump()

    def stop(self) -> None:
        self.sockets.shut()
        self._armed = None

    def _message(self, message: Message, source: Address, transport: str) -> None:
        for tap in self.taps:
            tap("in", message, source)
        if self.meter is not None:
            self.meter.received(self.index, message, source, self.engine.now)
        self.core.receive(message, source, transport, self.engine.now)
        self._pump()

    def _keepalive(self, kind: KeepAlive, source: Address, transport: str) -> None:
        self.core.keepalive_received(kind, source, transport, self.engine.now)
        self._pump()

    def _fire(self, when: float) -> None:
        if when != self._armed:  # re-armed since: a stale entry
            return
        self._armed = None
        self.core.handle_timer(self.engine.now)
        self._pump()

    def _failed(self, dest: Address, transport: str, why: str = "") -> None:
        self.core.transport_failed(dest, transport, self.engine.now, why)
        self._pump()

    def _pump(self) -> None:
        core, engine = self.core, self.engine
        meter = self.meter
        for out in core.datagrams_to_send():
            message = out.message
            if not isinstance(message, KeepAlive):
                for tap in self.taps:
                    tap("out", message, out.dest)
                if meter is not None:
                    meter.sent(message, out.dest, engine.now)
            self.sockets.transmit(out)
        while (event := core.next_event()) is not None:
            if self.on_event is not None:
                self.on_event(event)
        deadline = core.next_timer()
        if deadline is not None and deadline != self._armed:
            self._armed = deadline
            engine.call_at(deadline, self._fire, deadline)
