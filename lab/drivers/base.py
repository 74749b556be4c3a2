"""What every endpoint driver is: it starts an endpoint from a configuration, passes it the
drill's commands, hands its status events to the lab, stops it, and says what it supports.

A driver only translates. It adds no behaviour of its own (no failover, no re-registration
kicks, no retries): what the endpoint does is what the lab grades."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from endpoint.config import EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address
from endpoint.sip.message import Message
from lab.drivers.capabilities import Capabilities
from lab.drivers.control import EndpointControl
from lab.system.procs import signal_group, wait_group_gone

# the in-process wire tap: (direction "in"/"out", message, peer, transport, connection)
WireTap = Callable[[str, Message, Address, str, "int | None"], None]


@dataclass
class DriverContext:
    """What a driver is given to start: where to keep its files, and where to report."""

    workdir: Path
    on_event: Callable[[PhoneEvent], None]
    on_failure: Callable[[str], None]  # the endpoint itself failed (exited, went silent…)
    on_wire: WireTap | None = None
    sockets: Callable[..., object] | None = None  # the lab's (simulated) sockets, in-process
    rng_seed: str | None = None
    page: Path | None = None  # a page of one's own, for a driver that loads pages


async def kill_endpoint(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the endpoint's process group, whatever it left (its own children too)."""
    signal_group(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    await wait_group_gone(proc.pid, 5.0)


class EndpointDriver(EndpointControl, Protocol):
    """An endpoint under test: the commands of :class:`EndpointControl`, and these."""

    name: str
    capabilities: Capabilities

    @property
    def local_address(self) -> Address | None: ...  # where it sends from, once started

    async def start(self, config: EndpointConfig, ctx: DriverContext) -> None: ...
    async def stop(self) -> str | None: ...  # what went wrong stopping it, if anything
