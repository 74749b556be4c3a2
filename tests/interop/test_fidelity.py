"""Differential testing beyond the library: seeded random drills (two connections with
drawn settings, a schedule of faults — kill, hang, partitions both and one way, latency,
loss, the SIP-aware rules — and dials) run on real sites and in virtual time give the
same verdict and, per connection, the same sequence of status changes."""

from __future__ import annotations

import pytest
import yaml

from lab.fidelity.compare import both_ways
from lab.fidelity.generate import generate

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("seed", range(20))
def test_a_generated_drill_agrees_both_ways(seed: int) -> None:
    agreement = both_ways(generate(seed), seed, backend="embedded")
    assert agreement.agrees, agreement.describe()
    assert agreement.real[1][0][:2] == ["Registering", "Available"]  # it ran, both ways


def test_the_generator_is_seeded_and_keeps_to_what_the_simulation_models() -> None:
    assert generate(7) == generate(7) and generate(7) != generate(8)
    kinds = set()
    for seed in range(200):
        drill = yaml.safe_load(generate(seed))
        for step in drill["steps"]:
            if "fault" in step:
                kinds.add(step["fault"]["kind"] + ("/" + step["fault"]["direction"]
                                                   if "direction" in step["fault"] else ""))  # fmt: skip
        assert all(c.get("protocol", "udp") == "udp" for c in drill["endpoint"]["connections"])
    assert kinds == {"kill", "hang", "partition", "partition/to_site", "partition/from_site",
                     "latency", "loss", "sip_respond", "sip_drop"}  # fmt: skip
