"""Lab benchmark: bring-up and tear-down per backend, the fault proxy's added latency
(UDP and TCP, next to the direct path), and runners killed at random points (SIGINT and
SIGKILL, fixed seed) followed by ``geolab down``, counting what was left behind.

    python -m bench.lab [--trials 20]      (or: geolab bench lab)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_request
from endpoint.sip.uri import SipURI
from lab.faults.kernel import geolab_tables, nft_available
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.sites.containers import docker_client
from lab.sites.kamailio import kamailio_binary
from lab.sites.probe import options_ping
from lab.system.procs import processes_mentioning


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bring_up(
    backend: str, trials: int, transports: frozenset[str] | None = None
) -> tuple[list[float], list[float]]:
    """``transports``: what a drill's connections use (None: every one, TLS, ws and wss
    with them, as ``geolab up`` brings up and every drill did before)."""
    ups, downs = [], []
    for seed in range(trials):
        lab = Lab(LabConfig(backend=backend, seed=seed, transports=transports))
        t0 = time.perf_counter()
        await lab.start()
        ups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await lab.stop()
        downs.append(time.perf_counter() - t0)
    return ups, downs


async def proxy_latency(samples: int, *, watched: bool = False) -> dict[str, list[float]]:
    """OPTIONS round trips direct and through the proxy; ``watched``: while the lab records
    the wire (every message streamed to it, as in a drill)."""
    out: dict[str, list[float]] = {}
    lab = Lab(LabConfig(backend="embedded", sites=["a"]))
    if watched:
        lab.wire_observers.append(lambda seen: None)
    async with lab:
        for transport in ("udp", "tcp"):
            for path, addr in (("direct", lab.site("a").address), ("proxy", lab.target("a"))):
                times = []
                for _ in range(samples):
                    t0 = time.perf_counter()
                    assert await options_ping(*addr, transport=transport) == 200
                    times.append(time.perf_counter() - t0)
                out[f"{transport} {path}"] = times
    return out


async def kept_latency(samples: int) -> dict[str, list[float]]:
    """OPTIONS round trips direct and through the proxy, one stack each with its TCP
    connection kept, taken in turn (so the machine's drift falls on both alike): what the
    proxy adds to a message, not to a connect."""
    out: dict[str, list[float]] = {}
    async with Lab(LabConfig(backend="embedded", sites=["a"])) as lab:
        paths = {"direct": lab.site("a").address, "proxy": lab.target("a")}
        for transport in ("udp", "tcp"):
            async with contextlib.AsyncExitStack() as stacks:
                mine = {path: await stacks.enter_async_context(
                            SipStack("127.0.0.1", 0, transports=(transport,)))
                        for path in paths}  # fmt: skip
                for i in range(samples + 1):
                    for path, addr in paths.items():
                        stack = mine[path]
                        request = build_request(
                            "OPTIONS", SipURI(host=addr[0], port=addr[1]),
                            via=stack.via(transport), from_=f"<sip:b@x>;tag={stack.ids.tag()}",
                            to=f"<sip:{addr[0]}>", call_id=stack.ids.call_id("x"), cseq=1,
                        )  # fmt: skip
                        t0 = time.perf_counter()
                        response = await stack.request(request, addr, transport)
                        assert response.status == 200
                        if i:  # the first opens the connection
                            out.setdefault(f"{transport} {path}", []).append(
                                time.perf_counter() - t0
                            )
    return out


def runner_kills(trials: int, seed: int = 2026) -> tuple[int, list[float]]:
    """Kill ``python -m lab.real.holder`` at random points, run ``geolab down``; return how many
    processes were left behind in total and how long each ``down`` took."""
    rng = random.Random(seed)
    left = 0
    downs = []
    with tempfile.TemporaryDirectory(prefix="geolab-bench-state-") as state:
        env = {**os.environ, "GEOLAB_STATE_DIR": state}
        for trial in range(trials):
            sig = signal.SIGKILL if trial % 2 else signal.SIGINT
            config = {"sites": ["a", "b"], "backend": "embedded", "seed": trial}
            runner = subprocess.Popen(
                [sys.executable, "-m", "lab.real.holder", "--config", json.dumps(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
            time.sleep(rng.uniform(0.05, 1.5))  # a random point of its life
            os.kill(runner.pid, sig)
            runner.wait(timeout=30)
            workdirs = [json.loads(p.read_text())["workdir"] for p in Path(state).glob("*.json")]
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "lab.cli.main", "down", "--all"],
                env=env,
                capture_output=True,
                check=True,
                timeout=60,
            )
            downs.append(time.perf_counter() - t0)
            left += sum(len(processes_mentioning(w)) for w in workdirs)
            left += len(list(Path(state).glob("*.json")))
    return left, downs


async def bench(trials: int) -> None:
    print(f"geolab bench lab ({trials} trials)")
    backends = ["embedded"] + (["kamailio"] if kamailio_binary() else [])
    try:
        docker_client().images.get("geolab/site:latest")
        backends.append("compose")
    except Exception:
        print("  compose backend: not measured (no engine; sudo compose/engine.sh up)")
    plain = frozenset({"udp", "tcp"})
    for backend in backends:
        for what, transports in (("every transport", None), ("UDP and TCP only", plain)):
            ups, downs = await bring_up(backend, trials, transports)
            up_ms, down_ms = statistics.median(ups) * 1000, statistics.median(downs) * 1000
            print(
                f"  bring-up {backend:<9} two sites + proxies, {what:<16}: median "
                f"{up_ms:7.1f} ms  p95 {pct(ups, 0.95) * 1000:7.1f} ms;  tear-down median "
                f"{down_ms:7.1f} ms  p95 {pct(downs, 0.95) * 1000:7.1f} ms"
            )
    loops = ["asyncio"]
    try:
        import uvloop  # noqa: F401, PLC0415 (optional)

        loops.append("uvloop")
    except ImportError:
        print("  the fault proxy on uvloop: not measured (pip install uvloop)")
    for name in loops:  # the fault proxy's event loop, side by side
        os.environ["GEOLAB_PROXY_LOOP"] = name
        kept = await kept_latency(1000)
        for transport in ("udp", "tcp"):
            added = statistics.median(kept[f"{transport} proxy"]) - statistics.median(
                kept[f"{transport} direct"]
            )
            print(f"  fault proxy on {name:<7} adds (median, {transport.upper()}, one stack, "
                  f"connection kept): {added * 1000:.3f} ms")  # fmt: skip
    os.environ.pop("GEOLAB_PROXY_LOOP", None)
    latency = await proxy_latency(200)
    for key, times in latency.items():
        print(
            f"  OPTIONS round trip {key:<11} median {statistics.median(times) * 1000:6.2f} ms"
            f"  p99 {pct(times, 0.99) * 1000:6.2f} ms"
        )
    for transport in ("udp", "tcp"):
        added = statistics.median(latency[f"{transport} proxy"]) - statistics.median(
            latency[f"{transport} direct"]
        )
        print(f"  fault proxy adds (median, {transport.upper()}): {added * 1000:.2f} ms")
    recorded = await proxy_latency(200, watched=True)
    for transport in ("udp", "tcp"):
        more = statistics.median(recorded[f"{transport} proxy"]) - statistics.median(
            latency[f"{transport} proxy"]
        )
        print(
            f"  recording the wire adds (median, {transport.upper()}, per round trip of two "
            f"messages): {more * 1e6:.0f} us"
        )
    left, downs = runner_kills(trials)
    print(
        f"  runner killed at random points (SIGINT/SIGKILL alternating, seed 2026),"
        f" {trials} trials:"
        f" {left} processes or state files left after geolab down;"
        f" down took median {statistics.median(downs) * 1000:.0f} ms"
    )
    if await nft_available() is None:
        print(f"  geolab nft tables left: {len(await geolab_tables())}")


def main(trials: int = 20) -> int:
    asyncio.run(bench(trials))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    raise SystemExit(main(parser.parse_args().trials))
