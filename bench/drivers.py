"""Driver benchmark: the latency a driver adds to the endpoint's events, from the moment
the endpoint emits one to the moment the lab has it (the process driver: the pipe and the
JSON; in-process: a call; jssip: the page's binding, DevTools and its JSON). The process
driver's clocks are both the system's monotonic one; a page stamps its events with the
wall clock (``performance.timeOrigin + now()``), held against the lab's. For jssip also
the page's ready time (Chromium's start to PageReady) and Chromium's memory (the PSS of
its whole process group, one endpoint of two connections).

    python -m bench.drivers [--trials 200]      (or: geolab bench drivers)
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent
from lab.drivers import DriverContext, make_driver
from lab.drivers.browser import bundle
from lab.labs.interface import LabConfig
from lab.real.lab import Lab


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def group_pss(pgid: int) -> int:
    """The PSS (bytes) of every process in group ``pgid``."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[2]) != pgid:
                continue
            rollup = (stat.parent / "smaps_rollup").read_text()
        except (OSError, ValueError, IndexError):
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
    return total


async def event_latency(name: str, trials: int, extra: dict[str, float]) -> list[float]:
    """Disable and enable a connection ``trials`` times; each status event's delay."""
    transport = "ws" if name == "jssip" else "udp"
    async with Lab(LabConfig(backend="embedded", sites=["a", "b"])) as lab:
        config = EndpointConfig(connections=[
            ConnectionConfig(id=i, user="5001", server=lab.target(s, transport)[0],
                             port=lab.target(s, transport)[1], protocol=transport,
                             domain=lab.site(s).spec.domain)
            for i, s in enumerate(("a", "b"))
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
                page = getattr(driver, "latencies", None)
                if page is not None:
                    extra["ready"] = float(getattr(driver, "ready_after", 0.0) or 0.0)
                    proc = getattr(driver, "proc", None)
                    extra["pss"] = float(group_pss(proc.pid)) if proc is not None else 0.0
                    page.clear()
                delays.clear()
                for i in range(trials):
                    changed.clear()
                    if i % 2 == 0:
                        await driver.disable_connection(0)
                    else:
                        await driver.enable_connection(0)
                    await asyncio.wait_for(changed.wait(), 5)
                if page is not None:
                    delays = list(page)  # the page's stamps, not the arrival's
            finally:
                await driver.stop()
        return delays


async def bench(trials: int) -> None:
    print(f"geolab bench drivers ({trials} status changes each)")
    names = ["inprocess", "process"]
    if shutil.which("chromium") and bundle("jssip").exists():
        names.append("jssip")
    else:
        print("  jssip: not measured (chromium or the JsSIP bundle missing: ./run setup)")
    extra: dict[str, float] = {}
    results = {name: await event_latency(name, trials, extra) for name in names}
    for name, delays in results.items():
        print(f"  {name:<10} event delay median {statistics.median(delays) * 1e6:7.0f} us"
              f"  p99 {pct(delays, 0.99) * 1e6:7.0f} us  over {len(delays)} events")  # fmt: skip
    added = pct(results["process"], 0.99) - pct(results["inprocess"], 0.99)
    print(f"  the process driver adds (p99): {added * 1000:.3f} ms")
    if "jssip" in results:
        print(f"  jssip: page ready {extra['ready']:.2f} s after Chromium's start; Chromium's "
              f"PSS {extra['pss'] / 2**20:.0f} MiB for one endpoint of two connections")


def main(trials: int = 200) -> int:
    asyncio.run(bench(trials))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
