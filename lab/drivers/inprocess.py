"""``inprocess``: geolab's own phone (``AsyncPhone``) in the lab's process, on the lab's
sockets (real or simulated). Its wire tap reports every SIP message it sends or gets."""

from __future__ import annotations

import contextlib
import random

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.sip.events import Address
from endpoint.sip.message import Message
from lab.drivers.base import DriverContext
from lab.drivers.capabilities import Capabilities
from lab.drivers.control import connection_of
from lab.drivers.registry import driver


@driver(
    "inprocess", Capabilities(modes=frozenset({"real", "sim"}), wire_tap=True),
    "geolab's phone in the lab's process (the default)", takes_command=False,
)
class InProcessDriver:
    name: str
    capabilities: Capabilities

    def __init__(self) -> None:
        self.phone: AsyncPhone | None = None

    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None:
        rng = random.Random(ctx.rng_seed) if ctx.rng_seed is not None else None
        if ctx.sockets is not None:
            self.phone = AsyncPhone(config, sockets=ctx.sockets, rng=rng)
        else:
            self.phone = AsyncPhone(config, rng=rng)
        phone = self.phone
        phone.subscribe(ctx.on_event)
        if ctx.on_wire is not None:
            tap = ctx.on_wire

            def on_wire(direction: str, message: Message, peer: Address, transport: str) -> None:
                conn = connection_of(message, peer, phone.connections.values())
                tap(direction, message, peer, transport, conn)

            phone.taps.append(on_wire)
        await phone.start()

    async def stop(self) -> str | None:
        if self.phone is not None:
            with contextlib.suppress(Exception):
                await self.phone.close(unregister=True, grace=1.0)
        return None

    @property
    def local_address(self) -> Address | None:
        return self.phone.local_address if self.phone is not None else None

    def _phone(self) -> AsyncPhone:
        assert self.phone is not None, "the endpoint is not started"
        return self.phone

    async def dial(self, connection: int, destination: str, /) -> str:
        return self._phone().dial(connection, destination)

    async def answer(self, session: str, /) -> None:
        self._phone().answer(session)

    async def hangup(self, session: str, /) -> None:
        self._phone().hangup(session)

    async def hold(self, session: str, /) -> None:
        self._phone().hold(session)

    async def resume(self, session: str, /) -> None:
        self._phone().resume(session)

    async def add_connection(self, config: ConnectionConfig, /) -> None:
        self._phone().add_connection(config)

    async def enable_connection(self, connection: int, /) -> None:
        self._phone().enable_connection(connection)

    async def disable_connection(self, connection: int, /) -> None:
        self._phone().disable_connection(connection)

    async def remove_connection(self, connection: int, /) -> None:
        self._phone().remove_connection(connection)
