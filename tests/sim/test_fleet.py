"""A simulated fleet: the registration storm when a site returns, measured."""

from __future__ import annotations

from lab.fleet import FleetResult, run_fleet
from lab.lab import LabConfig
from lab.sim.lab import SimLab
from lab.sim.loop import run


def storm(seed: int, endpoints: int = 60) -> FleetResult:
    async def main() -> FleetResult:
        lab = SimLab(LabConfig(seed=seed))
        await lab.start()
        result = await run_fleet(
            lab,
            endpoints,
            reg_interval=300,
            retry_interval=30,
            transaction_timeout=8,
            outage_at=60,
            outage_for=400,
            settle=300,
            seed=seed,
        )
        await lab.stop()
        return result

    return run(main())


def test_every_endpoint_comes_back_within_the_retry_bound() -> None:
    result = storm(seed=3)
    assert result.unrecovered == 0 and len(result.recovery) == 60
    assert all(0 <= r <= 30 + 8 + 1 for r in result.recovery)  # retry interval + one timeout
    assert result.peak("a") >= 60  # the storm: every endpoint at once on the returning site
    assert sum(result.load["b"].values()) > 0
    assert len(result.histogram()) == 10


def test_the_same_seed_gives_the_same_storm() -> None:
    assert storm(seed=9).summary() == storm(seed=9).summary()
