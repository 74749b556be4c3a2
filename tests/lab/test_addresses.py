"""Loopback addresses of parallel labs do not collide."""

from __future__ import annotations

import subprocess
import sys


def test_two_labs_whose_blocks_coincide_walk_different_addresses() -> None:
    """A lab's block comes from its process id, so two labs' blocks can coincide; each
    starts at a place drawn at random in its block, so the addresses one hands out (and
    leaves free while a site of its is down for a drill) are not the next the other does."""
    code = (
        "import lab.system.net as n; n._block = lambda: 99; "
        "print(' '.join(n.allocate_address() for _ in range(5)))"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        ).stdout.split()
        for _ in range(2)
    ]
    assert all(len(run) == 5 and all(ip.startswith("127.99.") for ip in run) for run in runs)
    assert not set(runs[0]) & set(runs[1])
