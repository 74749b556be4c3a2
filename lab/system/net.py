"""Loopback addresses for sites and proxies that never collide between parallel labs.

Every 127.0.0.0/8 address works on ``lo`` without setup. A lab takes addresses from a
block chosen from its process id (and the pytest-xdist worker), from a place in the block
drawn at random, and checks each one is free by binding it before handing it out. (Two
processes' blocks may coincide; the draw keeps them from walking the same addresses, which
the check alone cannot: a site that is down, killed for a drill, leaves its address free
to be handed to another lab until it comes back.)
"""

from __future__ import annotations

import itertools
import os
import random
import re
import socket

_SPAN = 250 * 250  # addresses in a block: 127.block.(1-250).(1-250)
_counter = itertools.count(random.SystemRandom().randrange(_SPAN))


def _block() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = int(worker) if worker.isdigit() else 0
    return 20 + (os.getpid() * 7 + base * 31) % 200


def port_free(ip: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((ip, port))
            except OSError:
                return False
    return True


def allocate_address(port: int = 5060) -> str:
    """A fresh 127.x.y.z whose ``port`` is free for UDP and TCP."""
    block = _block()
    for _ in range(10000):
        n = next(_counter) % _SPAN
        ip = f"127.{block}.{n // 250 + 1}.{n % 250 + 1}"
        if port_free(ip, port):
            return ip
    raise RuntimeError("no free loopback address left")


def free_port(ip: str) -> int:
    """A port free for both UDP and TCP on ``ip``."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ip, 0))
            port = int(sock.getsockname()[1])
        if port_free(ip, port):
            return port
    raise RuntimeError(f"no free port on {ip}")


# a Dask scheduler's address, as --cluster and fleet.cluster name one
CLUSTER_PATTERN = r"^tcp://[A-Za-z0-9._-]{1,253}:\d{1,5}$"


def check_cluster(address: str) -> str:
    """``address`` if it names a Dask scheduler (``tcp://HOST:PORT``), else ValueError."""
    if not re.fullmatch(CLUSTER_PATTERN, address) or not 0 < int(address.rsplit(":", 1)[1]) < 65536:
        raise ValueError(f"a cluster is a Dask scheduler's tcp://HOST:PORT, not {address!r}")
    return address
