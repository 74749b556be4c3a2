"""What a drill needs of its driver: a drill that needs what the driver lacks is not
applicable, with reasons that name the line; what every driver has is never a reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.drill.needs import not_applicable
from lab.drivers.capabilities import Capabilities
from lab.drivers.registry import REGISTRY

LIBRARY = Path(__file__).parents[2] / "scenarios"


def test_the_library_needs_nothing_of_the_in_process_phone_nor_of_the_process_driver() -> None:
    """Save one thing: a TLS drill that checks the SIP on the wire (where a name led, a
    BYE's answer) cannot be graded with a black box, whose SIP is the fault proxy's record
    of the wire, and TLS hides it; such a drill says so, and its TCP and ws twins grade the
    process driver on the same steps."""
    for path in sorted(LIBRARY.glob("*.yaml")):
        s = load_scenario(path)
        assert not_applicable(s, "inprocess") == [], path.name
        if s.fleet is None:
            lacking = not_applicable(s, "process")
            if path.stem.endswith("-tls") and lacking:
                assert all("runs on TLS and the drill checks sip" in r for r in lacking)
                assert not not_applicable(load_scenario(path.with_name(
                    path.name.replace("-tls", "-tcp"))), "process")  # fmt: skip
                continue
            assert lacking == [], path.name


def test_what_baresip_lacks_is_named_with_its_line() -> None:
    keepalive = not_applicable(load_scenario(LIBRARY / "site-a-killed.yaml"), "baresip")
    assert keepalive[0] == ("connection 0 (line 14) uses keep-alive 'options', which driver "
                            "baresip cannot ask its endpoint for")  # fmt: skip
    runtime = not_applicable(load_scenario(LIBRARY / "connections-at-run-time.yaml"), "baresip")
    assert [r.split(" (")[0] for r in runtime] == ["it uses disable_connection",
                                                  "it uses enable_connection"]  # fmt: skip
    fleet = not_applicable(load_scenario(LIBRARY / "registration-storm.yaml"), "process")
    assert fleet and "fleet" in fleet[0]
    assert not_applicable(load_scenario(LIBRARY / "site-a-killed-tcp.yaml"), "baresip") == []


def test_a_transport_a_driver_does_not_offer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    udp_only = Capabilities(transports=frozenset({"udp"}))
    monkeypatch.setitem(REGISTRY, "process", replace(REGISTRY["process"], capabilities=udp_only))
    s = load_scenario(LIBRARY / "site-a-killed-tcp.yaml")
    assert not_applicable(s, "process") == [
        "connection 0 (line 14) runs on TCP, which driver process does not offer",
        "connection 1 (line 15) runs on TCP, which driver process does not offer",
    ]
