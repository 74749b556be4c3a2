"""Driver benchmark: the latency a driver adds to the endpoint's events, from the moment
the endpoint emits one to the moment the lab has it (the process driver: the pipe and the
JSON; in-process: a call). Both clocks are the system's monotonic one.

    python -m bench.drivers [--trials 200]      (or: geolab bench drivers)
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.drivers import DriverContext, make_driver
from lab.labs.interface import LabConfig
from lab.real.lab import Lab


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def event_latency(name: str, trials: int) -> list[float]:
    """Disable and enable a connection ``trials`` times; each status event's delay."""
    async with Lab(LabConfig(backend="embedded", sites=["a"])) as lab:
        ip, port = lab.target("a")
        config = EndpointConfig(connections=[
            ConnectionConfig(id=0, user="5001", server=ip, port=port,
                             domain=lab.site("a").spec.domain)
        ])  # fmt: skip
        delays: list[float] = []
        changed = asyncio.Event()

        def on_event(event: PhoneEvent) -> None:
            delays.append(time.monotonic() - event.t)
            changed.set()

        driver = make_driver(name)
        with tempfile.TemporaryDirectory(prefix="geolab-bench-") as folder:
            ctx = DriverContext(workdir=Path(folder), on_event=on_event, on_failure=print,
                                sockets=lab.endpoint_sockets())  # fmt: skip
            await driver.start(config, ctx)
            try:
                await asyncio.sleep(0.5)  # registered (a benchmark: the first events aside)
                delays.clear()
                for i in range(trials):
                    changed.clear()
                    if i % 2 == 0:
                        await driver.disable_connection(0)
                    else:
                        await driver.enable_connection(0)
                    await asyncio.wait_for(changed.wait(), 5)
            finally:
                await driver.stop()
        return delays


async def bench(trials: int) -> None:
    print(f"geolab bench drivers ({trials} status changes each)")
    results = {name: await event_latency(name, trials) for name in ("inprocess", "process")}
    for name, delays in results.items():
        print(f"  {name:<10} event delay median {statistics.median(delays) * 1e6:7.0f} us"
              f"  p99 {pct(delays, 0.99) * 1e6:7.0f} us  over {len(delays)} events")  # fmt: skip
    added = pct(results["process"], 0.99) - pct(results["inprocess"], 0.99)
    print(f"  the process driver adds (p99): {added * 1000:.3f} ms")


def main(trials: int = 200) -> int:
    asyncio.run(bench(trials))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
