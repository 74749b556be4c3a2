"""Hurting the sites: ``fault`` (healed by ``heal``, by its ``duration``, or with the
lab), ``heal``, and the seeded ``nemesis``."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any

from lab.faults.kinds import DNS_KINDS, KINDS, FaultKind, unsupported
from lab.scenario.models import FaultSpec, NemesisSpec
from lab.steps.base import Action, Checker, Loc, Place, StepRun, handles


class Fault(Action):
    ACTION = "fault"
    fault: FaultSpec

    def check(self, c: Checker, loc: Loc) -> None:
        c.site(self.fault.site, (*loc, "fault", "site"))
        if self.fault.duration is not None:
            c.bound(self.fault.duration, (*loc, "fault", "duration"))
        why = unsupported(
            self.fault.kind, self.fault.via, mode=c.mode, backend=c.backend, proxy=c.proxy
        )
        if why is not None:
            c.error((*loc, "fault", "kind"), why)
        if self.fault.kind in DNS_KINDS:
            self._dns(c, loc)
        if self.id is not None:
            c.fault_ids.add(self.id)

    def _dns(self, c: Checker, loc: Loc) -> None:
        if not c.dns:
            c.error((*loc, "fault", "kind"), f"fault {self.fault.kind.value!r} hurts the lab's "
                    "DNS, and this drill has none (topology.dns names no site)")  # fmt: skip
        to = self.fault.params.get("to")
        if self.fault.kind is FaultKind.DNS_CHANGE:
            if to is None:
                c.error((*loc, "fault"), "dns_change needs 'to': the site the records lead to")
            else:
                c.site(str(to), (*loc, "fault", "to"))


class Heal(Action):
    ACTION = "heal"
    heal: str  # "all", a site's name, or the id of an earlier fault step

    def check(self, c: Checker, loc: Loc) -> None:
        if self.heal != "all" and self.heal not in c.sites and self.heal not in c.fault_ids:
            c.error(
                (*loc, "heal"),
                f"heal what? {self.heal!r} is not 'all', a site ({', '.join(c.sites)}) "
                "or the id of an earlier fault step",
            )


class Nemesis(Action):
    ACTION = "nemesis"
    nemesis: NemesisSpec

    def check(self, c: Checker, loc: Loc) -> None:
        for name in self.nemesis.sites or []:
            c.site(name, (*loc, "nemesis", "sites"))
        c.bound(self.nemesis.duration, (*loc, "nemesis", "duration"))
        c.bound(self.nemesis.interval, (*loc, "nemesis", "interval"))
        for i, kind in enumerate(self.nemesis.faults):
            why = unsupported(FaultKind(kind), None, mode=c.mode, backend=c.backend,
                              proxy=c.proxy)  # fmt: skip
            if why is not None:
                c.error((*loc, "nemesis", "faults", i), why)



@handles(Fault)
async def fault(run: StepRun, step: Fault, place: Place) -> None:
    f = step.fault
    record = await run.lab.apply(f.kind, f.site, via=f.via, **f.params)
    run.faults.setdefault(step.id or f"step{place.index}", []).append(record)
    if f.duration is not None:
        delay = run.seconds(f.duration)

        async def heal_later() -> None:
            await asyncio.sleep(delay)
            await run.lab.heal(record)

        run.background(heal_later())


@handles(Heal)
async def heal(run: StepRun, step: Heal, place: Place) -> None:
    what = step.heal
    active = [r for r in run.lab.journal if r.healed_at is None and KINDS[r.kind].heals]
    if what == "all":
        records = active
    elif what in run.faults:
        records = [r for r in run.faults[what] if r.healed_at is None]
    else:
        records = [r for r in active if r.site == what]
    for record in records:
        await run.lab.heal(record)


@dataclass(frozen=True)
class Planned:
    """One fault of a nemesis: applied at ``at`` s after it began, healed ``hold`` s later."""

    at: float
    kind: FaultKind
    site: str
    params: dict[str, Any]
    hold: float


def nemesis_schedule(n: NemesisSpec, sites: list[str], duration: float, interval: float
                     ) -> list[Planned]:  # fmt: skip
    """The seeded schedule: every interval one fault on one site, healed half an interval
    later, until the duration is over (the last one cut short at the end)."""
    rng = random.Random(n.seed)
    plan, at = [], 0.0
    while at < duration:
        kind, site = rng.choice(n.faults), rng.choice(n.sites or sites)
        params: dict[str, Any] = {}
        if kind is FaultKind.LATENCY:
            params = {"latency": rng.randint(50, 500), "jitter": rng.randint(0, 50)}
        elif kind is FaultKind.LOSS:
            params = {"percent": rng.randint(10, 60), "transport": "udp"}
        plan.append(Planned(at, kind, site, params, min(interval / 2, duration - at)))
        at += interval
    return plan


@handles(Nemesis)
async def nemesis(run: StepRun, step: Nemesis, place: Place) -> None:
    """A seeded random fault schedule (Jepsen-style), :func:`nemesis_schedule`."""
    n = step.nemesis
    duration, interval = run.seconds(n.duration), run.seconds(n.interval)
    start = run.now()
    for planned in nemesis_schedule(n, list(run.lab.sites), duration, interval):
        await asyncio.sleep(max(0.0, start + planned.at - run.now()))  # its time slot
        async with run.lab.fault(planned.kind, planned.site, **planned.params):
            await asyncio.sleep(planned.hold)
    await asyncio.sleep(max(0.0, start + duration - run.now()))
