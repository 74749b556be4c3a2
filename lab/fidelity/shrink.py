"""``geolab shrink FILE --seed N``: a failing drill with a nemesis, reduced in virtual time
to a minimal fault schedule that still fails (delta debugging, Zeller's ddmin), written as
a plain drill with explicit fault steps — replayable on real sites.

The nemesis is unrolled into its seeded schedule (:func:`lab.steps.faults.nemesis_schedule`);
each fault keeps its time slot (a fault left out becomes a pause of the same length), and
waits that followed the nemesis keep their window (``after:`` its first step)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.drill import load_scenario
from lab.drill.schema import Scenario
from lab.run.factory import run_in_mode
from lab.run.runner import run_scenario
from lab.scenario.expr import seconds
from lab.steps.faults import Nemesis, Planned, nemesis_schedule
from lab.stream.results import ScenarioResult

MAX_RUNS = 200  # simulated runs a shrink may take


@dataclass
class Shrunk:
    faults_before: int
    faults_after: int
    runs: int
    text: str  # the minimal drill
    result: ScenarioResult  # how it fails


def _plain(s: Scenario) -> dict[str, Any]:
    data: dict[str, Any] = s.model_dump(mode="json", by_alias=True, exclude_unset=True,
                                        warnings=False)  # the step union is tagged by hand
    data.pop("source", None)
    data.pop("mode", None)  # a plain drill: real sites unless told otherwise
    return data


def unrolled(s: Scenario, keep: list[Planned] | None = None) -> tuple[str, list[Planned]]:
    """The drill with its (first) nemesis as explicit steps (only the faults in ``keep``,
    default all), as YAML text; and the nemesis's whole schedule."""
    data = _plain(s)
    steps = data["steps"]
    index = next(i for i, step in enumerate(s.steps) if step.action == "nemesis")
    step = s.steps[index]
    assert isinstance(step, Nemesis)
    n = step.nemesis
    env = s.env()
    duration, interval = seconds(n.duration, env), seconds(n.interval, env)
    plan = nemesis_schedule(n, list(s.topology.sites), duration, interval)
    kept = plan if keep is None else keep
    anchor = s.steps[index].id or "nemesis"
    out: list[dict[str, Any]] = [{"id": anchor, "sleep": "0s",
                                  "note": f"nemesis seed {n.seed}, unrolled"}]  # fmt: skip
    clock = 0.0
    for k, p in enumerate(plan):
        if p not in kept:
            continue
        if p.at > clock:
            out.append({"sleep": f"{p.at - clock:.6g}s"})
        out.append({"id": f"{anchor}-{k + 1}", "fault": {"kind": p.kind.value, "site": p.site,
                                                         **p.params}})  # fmt: skip
        out.append({"sleep": f"{p.hold:.6g}s"})
        out.append({"heal": f"{anchor}-{k + 1}"})
        clock = p.at + p.hold
    if duration > clock:
        out.append({"sleep": f"{duration - clock:.6g}s"})
    following = []
    for step in steps[index + 1 :]:
        is_wait = "wait_for" in step or "expect" in step
        if not is_wait:  # the next action step anchors the windows again
            following.append(step)
            following.extend(steps[index + 1 + len(following) :])
            break
        keeps_window = {"after", "after_event", "before"} & set(step)
        following.append(step if keeps_window else {**step, "after": anchor})  # its window
    data["steps"] = [*steps[:index], *out, *following]
    data["name"] = f"{s.name} (nemesis unrolled: {len(kept)} of {len(plan)} faults)"
    return yaml.safe_dump(data, sort_keys=False, width=100), plan


def _fails(text: str, seed: int, folder: Path) -> ScenarioResult | None:
    path = folder / "candidate.yaml"
    path.write_text(text)
    scenario = load_scenario(path)
    scenario.mode = "sim"  # candidates are tried in virtual time
    result = run_in_mode("sim", run_scenario(scenario, seed=seed))
    return None if result.passed else result


def ddmin(items: list[Planned], fails: Callable[[list[Planned]], bool]) -> list[Planned]:
    """Zeller's ddmin: a 1-minimal sublist of ``items`` for which ``fails`` holds."""
    n = 2
    while len(items) >= 2:
        size = len(items) // n
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        for chunk in chunks:
            if fails(chunk):
                items, n = chunk, 2
                break
        else:
            for chunk in chunks:
                rest = [x for x in items if x not in chunk]
                if fails(rest):
                    items, n = rest, max(n - 1, 2)
                    break
            else:
                if n >= len(items):
                    break
                n = min(len(items), n * 2)
    return items


def shrink(path: Path, seed: int) -> Shrunk:
    """The minimal failing unrolled drill; ValueError if the drill has no nemesis or does
    not fail in virtual time with ``seed``."""
    s = load_scenario(path)
    if not any(step.action == "nemesis" for step in s.steps):
        raise ValueError(f"{path}: no nemesis step to shrink")
    runs = 0
    with tempfile.TemporaryDirectory(prefix="geolab-shrink-") as tmp:
        folder = Path(tmp)
        text, plan = unrolled(s)
        first = _fails(text, seed, folder)
        runs += 1
        if first is None:
            raise ValueError(f"{path}: passes in virtual time with seed {seed}: nothing to shrink")
        cache: dict[tuple[int, ...], bool] = {}

        def fails(keep: list[Planned]) -> bool:
            nonlocal runs
            key = tuple(plan.index(p) for p in keep)
            if key not in cache:
                if runs >= MAX_RUNS:
                    return False
                runs += 1
                cache[key] = _fails(unrolled(s, keep)[0], seed, folder) is not None
            return cache[key]

        minimal = ddmin(list(plan), fails)
        text = unrolled(s, minimal)[0]
        result = _fails(text, seed, folder)
        runs += 1
        assert result is not None, "the minimal schedule must still fail"
    header = (f"# shrunk by `geolab shrink {path} --seed {seed}` from {len(plan)} faults to "
              f"{len(minimal)} ({runs} simulated runs); it runs on real sites as any drill "
              f"(--mode sim --seed {seed} replays it in virtual time)\n")  # fmt: skip
    return Shrunk(len(plan), len(minimal), runs, header + text, result)
