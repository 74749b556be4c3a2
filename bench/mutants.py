"""Mutants: the drill library run against deliberately broken endpoints, each geolab's own
phone with one DR behaviour broken, to show the library fails an endpoint that gets DR
wrong. Each mutant runs as a JSON-lines process (``python -m bench.mutants adapter NAME``)
through the ``process`` driver: the phone's own core told what to get wrong
(``EndpointConfig.mutant``: never retries a down site, never fails a dial over, calls
through a site it knows is down, forgets to register again after a lost TCP/TLS
connection, flaps at every renewal), or its events bent on their way out (each reported
twice, reported late, Available said without registering, a session on the wrong
connection). A mutant is killed when at least one drill fails it (the honest phone, run
the same way first, passes them all).

    python -m bench.mutants [--backend embedded] [--mutants a,b] [--drills x,y]
    (or: geolab bench mutants)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shlex
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from endpoint.config import CORE_MUTANTS
from endpoint.configfile import load, to_xml

EVENT_MUTANTS = ("reports_twice", "reports_late", "available_without_registering",
                 "wrong_connection")  # fmt: skip
MUTANTS = CORE_MUTANTS + EVENT_MUTANTS
LATE = 2.0  # s a late mutant holds each status event back
LIBRARY = Path(__file__).parents[1] / "scenarios"


# --- the adapter: one mutant as a JSON-lines endpoint process ----------------------------
def _bend(name: str, event: dict[str, Any], conns: int) -> list[tuple[float, dict[str, Any]]]:
    """What an event mutant writes for ``event``: (delay, event) pairs."""
    kind = event.get("event")
    if name == "reports_twice" and kind == "ConnectionStatusChanged":
        return [(0.0, event), (0.0, event)]
    if name == "reports_late" and kind == "ConnectionStatusChanged":
        return [(LATE, {**event, "t": float(event.get("t", 0.0)) + LATE})]
    if name == "wrong_connection" and kind == "SessionStatusChanged" and conns > 1:
        return [(0.0, {**event, "connection": (int(event["connection"]) + 1) % conns})]
    if name == "available_without_registering" and kind == "Ready":
        said = [{"event": "ConnectionStatusChanged", "connection": n, "status": "Available",
                 "previous": "Registering", "reason": "registered", "code": 200,
                 "t": time.monotonic()} for n in range(conns)]  # fmt: skip
        return [(0.0, event), *((0.0, e) for e in said)]
    return [(0.0, event)]


async def adapter(name: str, config: Path) -> int:
    if name not in MUTANTS:
        print(json.dumps({"event": "Error", "message": f"no mutant {name!r}"}), flush=True)
        return 2
    conns = len(ET.parse(config).getroot().findall(".//Connectivity"))
    if name in CORE_MUTANTS:
        mutated = config.with_name("mutant.config")
        mutated.write_text(to_xml(load(config).model_copy(update={"mutant": name})))
        config = mutated
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "endpoint", "--config", str(config),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 20,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    loop = asyncio.get_running_loop()
    ours = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(ours), sys.stdin)

    async def commands() -> None:
        assert proc.stdin is not None
        while line := await ours.readline():
            proc.stdin.write(line)
            await proc.stdin.drain()
        proc.stdin.close()

    def write(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    pump = asyncio.ensure_future(commands())
    while raw := await proc.stdout.readline():
        try:
            event = json.loads(raw)
        except ValueError:
            sys.stdout.write(raw.decode(errors="replace"))
            continue
        for delay, bent in _bend(name, event, conns):
            if delay:
                loop.call_later(delay, write, bent)
            else:
                write(bent)
    pump.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pump
    return await proc.wait()


# --- the benchmark ------------------------------------------------------------------------
def _verdicts(report: Path) -> dict[str, str]:
    (timeline,) = report.glob("*/timeline.json")
    data = json.loads(timeline.read_text())
    out = {}
    for s in data["scenarios"]:
        verdict = "N/A" if s.get("not_applicable") else ("PASS" if s["passed"] else "FAIL")
        if any(str(e).startswith("lab error") for e in s.get("errors", [])):
            verdict = "ERROR"
        out[Path(s["source"]).stem] = verdict
    return out


def run_library(
    mutant: str | None, drills: list[Path], backend: str, folder: Path
) -> dict[str, str]:
    command = [sys.executable, "-m", "bench.mutants", "adapter", mutant] if mutant \
        else [sys.executable, "-m", "endpoint"]  # fmt: skip
    report = folder / (mutant or "honest")
    subprocess.run(
        [sys.executable, "-m", "lab.cli.main", "run", *map(str, drills), "--backend", backend,
         "--driver", "process", "--endpoint-command", shlex.join(command), "-n", "2", "-q",
         "--report-dir", str(report)],
        capture_output=True, timeout=3600, check=False,
    )  # fmt: skip
    return _verdicts(report)


def main(backend: str = "embedded", mutants: list[str] | None = None,
         drills: list[str] | None = None) -> int:  # fmt: skip
    chosen = mutants or list(MUTANTS)
    paths = sorted(LIBRARY.glob("*.yaml"))
    paths = [p for p in paths if p.stem != "registration-storm"]  # a fleet: no endpoint process
    if drills:
        paths = [p for p in paths if p.stem in drills]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="geolab-bench-mutants-") as tmp:
        honest = run_library(None, paths, backend, Path(tmp))
        graded = [d for d, v in honest.items() if v == "PASS"]
        killed_by: dict[str, list[str]] = {}
        for mutant in chosen:
            verdicts = run_library(mutant, paths, backend, Path(tmp))
            killed_by[mutant] = [d for d in graded if verdicts.get(d) == "FAIL"]
    width = max(len(m) for m in chosen)
    took = time.monotonic() - started
    print(f"the library ({len(paths)} drills, {backend}) against {len(chosen)} mutants of "
          f"geolab's phone, through the process driver, in {took:.0f} s")  # fmt: skip
    unfit = sorted(d for d, v in honest.items() if v != "PASS")
    if unfit:
        print(f"not graded (the honest phone did not pass them here): {', '.join(unfit)}")
    for mutant in chosen:
        drills_failing = killed_by[mutant]
        print(f"  {mutant:<{width}}  {'killed' if drills_failing else 'SURVIVED'} by "
              f"{len(drills_failing)}: {', '.join(drills_failing) or '—'}")  # fmt: skip
    idle = [d for d in graded if not any(d in k for k in killed_by.values())]
    print(f"drills that killed no mutant: {', '.join(idle) or 'none'}")
    killed = sum(1 for k in killed_by.values() if k)
    print(f"mutants killed: {killed} of {len(chosen)}")
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "adapter":
        parser = argparse.ArgumentParser(prog="python -m bench.mutants adapter")
        parser.add_argument("adapter")
        parser.add_argument("name")
        parser.add_argument("--config", required=True)
        ns = parser.parse_args()
        raise SystemExit(asyncio.run(adapter(ns.name, Path(ns.config))))
    parser = argparse.ArgumentParser(prog="python -m bench.mutants", description=__doc__)
    parser.add_argument("--backend", default="embedded", choices=["embedded", "kamailio"])
    parser.add_argument("--mutants", help="comma-separated (default: all)")
    parser.add_argument("--drills", help="comma-separated drill names (default: the library)")
    ns = parser.parse_args()
    raise SystemExit(main(ns.backend, ns.mutants.split(",") if ns.mutants else None,
                          ns.drills.split(",") if ns.drills else None))  # fmt: skip
