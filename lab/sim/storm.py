"""A fleet's registration storm on the discrete-event engine, optionally split over worker
processes or a Dask cluster (:mod:`lab.sim.executors`).

Endpoints do not talk to each other and a simulated site has no capacity limit, so a
fleet splits exactly into shards: shard k of n runs endpoints k, k+n, k+2n … against its
own copy of the sites, and the shards' figures add up (recovery times concatenate, REGISTER
counts per second sum). The number of shards follows from the fleet's size alone (one per
250 endpoints); worker processes only decide how many run at once. Each endpoint's
randomness comes from the seed and its index, each shard's network from the seed and the
shard: the same seed gives the same storm, figure for figure, on any number of workers.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass

from endpoint.sip.values import clear_parse_caches
from lab.faults.kinds import KINDS
from lab.fleet.meter import FleetPlan, FleetResult
from lab.fleet.stormmeter import StormMeter
from lab.sim.engine import PhoneNode
from lab.sim.executors import shard_executor
from lab.sim.network import Link, SimNetwork
from lab.sim.schedule import Engine
from lab.sim.site import SimSite, site_specs


@dataclass
class ShardResult:
    result: FleetResult
    messages: int
    steps: int
    virtual: float


def endpoint_host(i: int) -> str:
    return f"10.{200 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}"


def run_shard(plan: FleetPlan, shard: int = 0, shards: int = 1) -> ShardResult:
    # the users, contacts and branches of this shard are its own: what the parsers cached
    # for the last one will not come again, and full caches slowed a worker's shards down
    # by half over its first two dozen (memory walked by the collector, out of the CPU's)
    clear_parse_caches()
    engine = Engine()
    network = SimNetwork(random.Random(f"net:{plan.seed}:{shard}").getrandbits(32), plan.wire)
    network.default = Link(latency=0.001, jitter=0.0005)
    network.run_on(engine)
    specs = site_specs(plan.sites)
    sites = {name: SimSite(spec, network, lambda: engine.now, seed=f"{plan.seed}:{shard}")
             for name, spec in specs.items()}  # fmt: skip
    for site in sites.values():
        site.up()
    result = FleetResult(plan.endpoints, plan.outage_site, load={s: Counter() for s in plan.sites})
    by_address = {site.address: name for name, site in sites.items()}
    meter = StormMeter(result, by_address, sites[plan.outage_site].address)
    mine = range(shard, plan.endpoints, shards)
    where = [(specs[name].ip, specs[name].port, specs[name].domain) for name in plan.sites]
    for i in mine:
        host = endpoint_host(i)
        config = plan.endpoint(i, (host, 5060), where)
        node = PhoneNode(engine, network, config, random.Random(f"phone:{plan.seed}:{i}"))
        node.meter, node.index = meter, i
        engine.call_at(i * plan.boot / plan.endpoints, node.start)
    engine.run_until(plan.outage_at)
    sites[plan.outage_site].take_out(KINDS[plan.outage_kind].effect)
    engine.run_until(plan.outage_at + plan.outage_for)
    meter.returned(engine.now)
    sites[plan.outage_site].bring_back(KINDS[plan.outage_kind].effect)
    end = engine.now + plan.settle
    while engine.now < end and len(meter.recovered) < len(mine):
        engine.run_until(min(end, engine.now + 1.0))
    if plan.duration is not None and engine.now < plan.duration:
        engine.run_until(plan.duration)
    result.unrecovered = len(mine) - len(meter.recovered)
    return ShardResult(result, network.sent, engine.steps, engine.now)


def _run_shard(args: tuple[FleetPlan, int, int]) -> ShardResult:
    return run_shard(*args)


# endpoints per shard: small enough that a shard's phones, sites and heap stay in the CPU's
# caches (per endpoint, shards of 250 ran 1.3-1.4x faster than shards of 1,000, and ran as
# fast as shards of 50; at a million endpoints the 4,000 results merge in a second or two)
SHARD = 250


def shard_count(endpoints: int, size: int = SHARD) -> int:
    """How many shards a fleet splits into: a function of its size alone, so the storm does
    not depend on how many processes run it."""
    return max(1, math.ceil(endpoints / size))


def simulate_fleet(
    plan: FleetPlan, workers: int = 1, *, shard_size: int = SHARD, cluster: str | None = None
) -> tuple[FleetResult, ShardResult]:
    """The whole fleet, its shards run ``workers`` at a time in local processes, or on the
    Dask cluster whose scheduler ``cluster`` names: the merged result and totals
    (messages, engine steps, virtual end)."""
    shards = shard_count(plan.endpoints, shard_size)
    tasks = [(plan, k, shards) for k in range(shards)]
    if shards == 1 and cluster is None:
        one = run_shard(plan)
        return one.result, one
    with shard_executor(workers, cluster, tasks=shards) as executor:
        if executor is None:
            parts = [_run_shard(task) for task in tasks]
        else:
            parts = list(executor.map(_run_shard, tasks))
    merged = FleetResult(plan.endpoints, plan.outage_site, load={s: Counter() for s in plan.sites})
    for part in parts:
        merged.recovery.extend(part.result.recovery)
        merged.unrecovered += part.result.unrecovered
        for site, counts in part.result.load.items():
            merged.load[site].update(counts)
    merged.recovery.sort()
    merged.back_at = parts[0].result.back_at
    totals = ShardResult(
        merged,
        sum(p.messages for p in parts),
        sum(p.steps for p in parts),
        max(p.virtual for p in parts),
    )
    return merged, totals
