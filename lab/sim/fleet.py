"""The fleet on the asyncio simulator: one AsyncPhone per endpoint on SimSockets (the
simulated network has no open-files limit, and each phone keeps its own address)."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

from endpoint.aio.phone import AsyncPhone
from endpoint.config import EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.labs.interface import Tap
from lab.sim.network import SimNetwork, SimSockets


class SimFleet:
    def __init__(
        self,
        configs: list[EndpointConfig],
        network: SimNetwork,
        rng: random.Random,
        tap: Tap,
        on_phone: Callable[[int, PhoneEvent], None] | None,
    ) -> None:
        self.phones: list[AsyncPhone] = []
        for i, cfg in enumerate(configs):
            phone = AsyncPhone(
                cfg,
                sockets=functools.partial(SimSockets, network),
                rng=random.Random(rng.random()),
            )
            if on_phone is not None:
                phone.subscribe(functools.partial(on_phone, i))
            phone.taps.append(functools.partial(tap, i))
            self.phones.append(phone)

    async def open(self) -> SimFleet:
        return self

    async def start(self, index: int) -> None:
        await self.phones[index].start()

    async def close(self) -> None:
        for phone in self.phones:
            await phone.close(unregister=False)
