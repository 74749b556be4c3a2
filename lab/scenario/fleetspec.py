"""A fleet drill's part of the format: N endpoints, one site outage, verdicts over the
storm."""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from endpoint.config import ConnectionSettings, Seconds
from lab.faults.kinds import FLEET_OUTAGES, FaultKind
from lab.fleet.meter import FLEET_SETTINGS
from lab.scenario.models import Duration, Strict
from lab.system.net import CLUSTER_PATTERN

Cluster = Annotated[str, StringConstraints(pattern=CLUSTER_PATTERN)]  # a Dask scheduler


class OutageSpec(Strict):
    """The site that goes down under the fleet, how, when and for how long."""

    @field_validator("kind")
    @classmethod
    def _an_outage(cls, kind: FaultKind) -> FaultKind:
        if kind not in FLEET_OUTAGES:
            raise ValueError(f"a fleet's outage is one of {', '.join(FLEET_OUTAGES)}, not {kind}")
        return kind

    site: str = "a"
    kind: FaultKind = FaultKind.KILL  # one of a fleet's outages (lab.faults.kinds)
    at: Duration = "60s"
    for_: Duration = Field(default="120s", alias="for")


class FleetExpect(Strict):
    """Verdicts over the storm; bounds may use the fleet's settings (``retry_interval``…)."""

    unrecovered_at_most: int = Field(default=0, ge=0)
    p50_within: Duration | None = None
    p90_within: Duration | None = None
    p99_within: Duration | None = None
    max_within: Duration | None = None
    peak_register_per_s_at_most: dict[str, int] = Field(default_factory=dict)


FLEET_BOUNDS = ("p50", "p90", "p99", "max")


class FleetSpec(ConnectionSettings):
    """N endpoints, one connection per site each, and one site outage: the storm when it
    returns. Every connection has the fleet's settings (the endpoint's settings model,
    with a fleet's defaults: renewals every 5 minutes, a transaction given up after 8 s)."""

    model_config = ConfigDict(extra="forbid", frozen=False)

    endpoints: int = Field(ge=1, le=100_000)
    real_endpoints: int | None = Field(default=None, ge=1)  # the size on real sites
    reg_interval: Seconds = FLEET_SETTINGS.reg_interval
    retry_interval: Seconds = FLEET_SETTINGS.retry_interval
    transaction_timeout: Seconds = FLEET_SETTINGS.transaction_timeout
    boot: Duration = "1s"  # start-up spread, as real phones boot
    outage: OutageSpec = Field(default_factory=OutageSpec)
    settle: Duration = "120s"  # how long after the return every endpoint has to come back
    expect: FleetExpect = Field(default_factory=FleetExpect)
    # in simulation, run the fleet's shards (one per 250 endpoints) this many processes at
    # a time; the storm is the same whatever the number
    workers: int = Field(default=1, ge=1, le=64)
    # in simulation, run the shards on the Dask cluster whose scheduler this names instead
    # (tcp://HOST:PORT; `geolab run --cluster` sets it for every fleet drill)
    cluster: Cluster | None = None
    duration: Duration | None = None  # in simulation, run on to this time after the storm

    def size(self, mode: str) -> int:
        if mode == "real" and self.real_endpoints is not None:
            return min(self.endpoints, self.real_endpoints)
        return self.endpoints
