"""``python -m lab.faults --api HOST:PORT [--seed N]``: run the fault proxy server.

Its event loop is uvloop (asyncio's where uvloop is not installed, or with
``GEOLAB_PROXY_LOOP=asyncio``): ``geolab bench lab`` measures both side by side, and
uvloop adds less to a message over UDP and over TCP."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from lab.faults.api import FaultServer
from lab.faults.proxy import parse_addr


async def serve(host: str, port: int, seed: int) -> None:
    server = FaultServer(seed=seed)
    await server.start(host, port)
    print(
        json.dumps({"event": "Ready", "api": f"{server.address[0]}:{server.address[1]}"}),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.faults", description=__doc__)
    parser.add_argument("--api", default="127.0.0.1:8474", help="where the HTTP API listens")
    parser.add_argument("--seed", type=int, default=0, help="seed of every toxic's randomness")
    parser.add_argument("--lab-dir", help="the lab's folder (marks the process for clean-up)")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    host, port = parse_addr(args.api)
    run_loop(serve(host, port, args.seed))
    return 0


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """``main`` on uvloop, or on asyncio's loop when asked for or uvloop is missing."""
    if os.environ.get("GEOLAB_PROXY_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop  # noqa: PLC0415 (optional)
        except ImportError:
            pass
        else:
            uvloop.run(main)
            return
    asyncio.run(main)


if __name__ == "__main__":
    sys.exit(main())
