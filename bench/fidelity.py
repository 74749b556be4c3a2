"""``geolab bench fidelity --seeds N``: N seeded random drills (lab.fidelity.generate), each
on real sites and in virtual time; prints the agreement rate (same verdict, same status
sequence per connection) and the seeds that disagree, with what each side saw."""

from __future__ import annotations

import time

from lab.fidelity.compare import both_ways
from lab.fidelity.generate import generate


def main(seeds: int = 200, *, first: int = 0, backend: str = "auto") -> int:
    started = time.monotonic()
    disagree = []
    for seed in range(first, first + seeds):
        agreement = both_ways(generate(seed), seed, backend=backend)
        if not agreement.agrees:
            disagree.append(agreement)
            print(agreement.describe(), flush=True)
    took = time.monotonic() - started
    rate = 100 * (seeds - len(disagree)) / seeds
    print(f"fidelity: {seeds - len(disagree)}/{seeds} generated drills agree ({rate:.1f} %) "
          f"on {backend} and in simulation, in {took:.0f}s; disagreeing seeds: "
          f"{[a.seed for a in disagree] or 'none'}")  # fmt: skip
    return 0 if not disagree else 1
