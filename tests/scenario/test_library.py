"""Every drill of the library passes on the embedded backend (with geolab's phone
in-process and as a process through the process driver), and in simulation; the verdicts
agree and so does each connection's sequence of status events (times aside).
(The plugin also runs each drill on the scenario's own backend, Kamailio where installed.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from lab.drill import load_scenario
from lab.run.runner import run_scenario
from lab.sim.loop import run as sim_run
from lab.stream.results import ScenarioResult

LIBRARY = sorted(Path(__file__).parents[2].joinpath("scenarios").glob("*.yaml"))
pytestmark = pytest.mark.interop


def statuses(result: ScenarioResult) -> dict[object, list[str]]:
    out: dict[object, list[str]] = {}
    for e in result.events:
        if e.label == "ConnectionStatusChanged":
            out.setdefault(e.fields()["connection"], []).append(str(e.fields()["status"]))
    return out


def explain(result: ScenarioResult) -> str:
    lines = [
        f"{result.source}:{e.line}: expected {e.expected}; observed {e.observed}"
        for e in result.failures
    ]
    return "\n".join(lines + result.errors)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_drill_passes_on_embedded_and_in_simulation_alike(path: Path) -> None:
    real = asyncio.run(run_scenario(load_scenario(path), backend="embedded"))
    assert real.passed, explain(real)
    assert real.backend == "embedded"
    if load_scenario(path).fleet is None:  # the same phone as a process, graded alike
        process = asyncio.run(
            run_scenario(load_scenario(path), backend="embedded", driver="process")
        )
        if process.not_applicable:  # a TLS drill that reads the wire (tests/scenario/test_needs)
            assert path.stem.endswith("-tls"), process.not_applicable
        else:
            assert process.passed, explain(process)
            assert statuses(process) == statuses(real)
    scenario = load_scenario(path)
    scenario.mode = "sim"
    sim = sim_run(run_scenario(scenario, seed=1))
    assert sim.passed, explain(sim)
    assert sim.backend == "sim" and sim.mode == "sim"
    assert statuses(sim) == statuses(real)


def test_simulation_replays_byte_for_byte() -> None:
    path = Path(__file__).parents[2] / "scenarios" / "flapping-site.yaml"

    def timeline(seed: int) -> str:
        scenario = load_scenario(path)
        scenario.mode = "sim"
        result = sim_run(run_scenario(scenario, seed=seed))
        return json.dumps([e.to_json() for e in result.events], sort_keys=True, default=str)

    first, again, other = timeline(5), timeline(5), timeline(6)
    assert first == again
    assert first != other  # the seed drives jitter: another seed, other timings


def _uses_tcp(path: Path) -> bool:
    s = load_scenario(path)
    transports = {c.protocol or s.topology.transport for c in s.endpoint.connections}
    return "tcp" in transports


@pytest.mark.parametrize("other", ["tls", "ws"])
def test_every_tcp_drill_of_the_library_runs_over_tls_and_ws_too(other: str) -> None:
    """A TCP drill's TLS and WebSocket twins (``-tcp`` → ``-tls``, ``-ws``) are the same
    drill with TLS or ws for TCP."""
    tcp = [p for p in LIBRARY if _uses_tcp(p)]
    assert tcp, "the library has TCP drills"
    for path in tcp:
        twin = path.with_name(path.name.replace("-tcp", f"-{other}"))
        assert twin != path and twin.exists(), f"{path.name} has no {other} twin {twin.name}"
        a, b = load_scenario(path), load_scenario(twin)
        assert b.topology.transport == other or all(
            c.protocol == other for c in b.endpoint.connections
        )
        assert a.steps == b.steps and a.invariants == b.invariants
        assert [c.model_dump(exclude={"protocol"}) for c in a.endpoint.connections] == [
            c.model_dump(exclude={"protocol"}) for c in b.endpoint.connections
        ]


@pytest.mark.parametrize("drill", ["site-hung", "partition"])
def test_the_hung_site_and_partition_drills_have_ws_twins(drill: str) -> None:
    """Over ws the same faults and bounds (the partition twin first proves a call reaches
    the phone over its ws connection, so that its absent call means something)."""
    a = load_scenario(LIBRARY[0].parent / f"{drill}.yaml")
    b = load_scenario(LIBRARY[0].parent / f"{drill}-ws.yaml")
    assert b.topology.transport == "ws" and a.topology.transport == "udp"
    assert [c.model_dump() for c in a.endpoint.connections] == [
        c.model_dump() for c in b.endpoint.connections
    ]
    # the first wait, then (after the ws twin's first call) the same steps to the end
    assert a.steps[0] == b.steps[0] and a.steps[1:] == b.steps[len(b.steps) - len(a.steps) + 1 :]
    assert a.invariants == b.invariants


# every behaviour the library checks with a keep-alive, and its drill that needs none
WITHOUT_KEEPALIVE = {
    "site-a-killed": "site-a-killed-renewal",
    "site-hung": "site-hung-renewal",
    "partition": "partition-renewal",
    "partition-one-way": "partition-renewal",
    "both-sites-down-recovery-a-first": "both-sites-down-renewal",
    "both-sites-down-recovery-b-first": "both-sites-down-renewal",
    "inbound-via-b-while-a-down": "inbound-via-b-renewal",
    "dial-failover-known-down": "dial-failover-known-down-renewal",
}
PLAIN_ACTIONS = {"wait_for", "expect", "fault", "heal", "call", "dial", "answer", "hangup",
                 "add_connection", "sleep", "note"}  # fmt: skip


def test_every_keepalive_drill_s_behaviour_has_a_drill_any_endpoint_can_run() -> None:
    """A behaviour graded only with a keep-alive would be N/A for every endpoint that
    cannot be given one (baresip, PJSIP, the browser libraries): each has a twin that needs
    no keep-alive, no transport beyond UDP and no command beyond add/dial/answer/hangup."""
    stems = {p.stem: p for p in LIBRARY}
    with_keepalive = {p.stem for p in LIBRARY
                      if any(c.keepalive for c in load_scenario(p).endpoint.connections)}  # fmt: skip
    # the keep-alive's own drills (its period against renewals; ws pings; RFC 5626's pong
    # timeout), and two whose behaviour the twins above cover in parts (a flapping site; a
    # callee back with its site)
    own = {"keepalive-faster-than-renewal", "site-hung-ws", "partition-ws",
           "pong-timeout-tcp", "pong-timeout-tls", "pong-timeout-ws"}  # fmt: skip
    assert with_keepalive <= set(WITHOUT_KEEPALIVE) | own | {"flapping-site",
                                                             "callee-back-with-its-site"}
    # and the browsers (WebSocket only) get the twins over ws: hung site, partition, both
    # sites down; a site silent past a transaction's timeout
    for twin in ("site-hung-renewal", "partition-renewal"):
        assert f"{twin}-ws" in stems, twin
    assert {"both-sites-down-ws", "site-silent-past-timeout-ws"} <= set(stems)
    for keepalive_drill, twin in WITHOUT_KEEPALIVE.items():
        assert keepalive_drill in stems and twin in stems, (keepalive_drill, twin)
        s = load_scenario(stems[twin])
        assert all(c.keepalive is None for c in s.endpoint.connections), twin
        assert all((c.protocol or s.topology.transport) == "udp"
                   for c in s.endpoint.connections), twin  # fmt: skip
        actions = {step.action for step in s.steps}
        assert actions <= PLAIN_ACTIONS, (twin, actions - PLAIN_ACTIONS)
        assert s.fleet is None
