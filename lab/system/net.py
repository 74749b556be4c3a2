"""Loopback addresses for sites and proxies that never collide between parallel labs.

Every 127.0.0.0/8 address works on ``lo`` without setup. A lab takes addresses from a
block chosen from its process id (and the pytest-xdist worker), and checks each one is
free by binding it before handing it out.
"""

from __future__ import annotations

import itertools
import os
import re
import socket

_counter = itertools.count()


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
        n = next(_counter)
        ip = f"127.{block}.{(n // 250) % 250 + 1}.{n % 250 + 1}"
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
