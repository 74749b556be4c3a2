"""Ctrl-C and SIGTERM at random moments of ``geolab run`` (start-up, the drill, its
teardown, the reports): each run must exit 130 / 143 within 5 s of its signal, never with
a verdict (0 or 1), and leave nothing behind (no state file, no process naming its lab's
folder) without ``geolab cleanup``.

    python -m bench.signals [--runs 100] [--backend embedded]    (or: geolab bench signals)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lab.system.procs import processes_mentioning

DRILL = Path(__file__).parents[1] / "scenarios" / "inbound-via-b-while-a-down.yaml"
BOUND = 5.0  # s from the signal to the run's exit
STARTUP = 0.15  # s: the interpreter's own start-up, before geolab's first line runs
LONGEST = 4.0  # s: signals land within this much of the start (the whole run takes ~3.5 s)


@dataclass
class SignalResult:
    runs: int = 0
    finished: int = 0  # the run had ended before its signal came
    exits: dict[int, int] = field(default_factory=dict)
    slow: list[float] = field(default_factory=list)  # exits over the bound, s
    verdicts: int = 0  # exits 0 or 1 after a signal: a verdict that had been cancelled
    left: list[str] = field(default_factory=list)  # what a run left behind
    took: list[float] = field(default_factory=list)  # s from signal to exit
    died: list[float] = field(default_factory=list)  # when signals that killed it came, s

    @property
    def clean(self) -> bool:
        """Every signal ended its run with 130/143 within the bound, no verdict, nothing
        left; but for those that came while the interpreter itself was starting (before
        any of geolab's code: Python's to handle)."""
        started = all(at < STARTUP for at in self.died)
        return not self.slow and not self.verdicts and not self.left and started and all(
            code in (130, 143) or code < 0 for code in self.exits
        )


def _workdirs(state: Path) -> set[str]:
    found = set()
    for path in state.glob("*.json"):
        try:
            found.add(json.loads(path.read_text())["workdir"])
        except (OSError, ValueError, KeyError):
            pass
    return found


def one(backend: str, sig: int, at: float, folder: Path, result: SignalResult) -> None:
    env = {**os.environ, "GEOLAB_STATE_DIR": str(folder / "state"), "NO_COLOR": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "lab.cli.main", "run", str(DRILL), "--backend", backend,
         "--report-dir", str(folder / "reports"), "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True,
    )  # fmt: skip
    workdirs: set[str] = set()
    deadline = time.monotonic() + at
    while time.monotonic() < deadline and run.poll() is None:
        workdirs |= _workdirs(folder / "state")
        time.sleep(0.01)  # sampling the lab's state files until the moment comes
    result.runs += 1
    # (exited, not yet reaped: a signal now would come after its end, not cancel it)
    if run.poll() is not None or os.waitid(os.P_PID, run.pid,
                                           os.WEXITED | os.WNOHANG | os.WNOWAIT):  # fmt: skip
        result.finished += 1
        run.communicate()
        return
    os.kill(run.pid, sig)
    sent = time.monotonic()
    try:
        run.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
    took = time.monotonic() - sent
    result.took.append(took)
    result.exits[run.returncode] = result.exits.get(run.returncode, 0) + 1
    if took > BOUND:
        result.slow.append(took)
    if run.returncode in (0, 1):
        result.verdicts += 1
    if run.returncode < 0:  # died by the signal: before geolab's first line ran
        result.died.append(at)
    deadline = time.monotonic() + 1.0  # children the kernel ends with their parent: a moment
    while any(processes_mentioning(w) for w in workdirs) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = [str(p) for p in (folder / "state").glob("*.json")]
    left += [f"pid {p} ({w})" for w in workdirs for p in processes_mentioning(w)]
    if left:
        result.left.append(f"{signal.Signals(sig).name} at {at:.2f}s: {', '.join(left)}")
        subprocess.run([sys.executable, "-m", "lab.cli.main", "cleanup"], env=env,
                       capture_output=True, timeout=60, check=False)  # fmt: skip


def main(runs: int = 100, backend: str = "embedded", seed: int = 1) -> int:
    rng = random.Random(seed)
    result = SignalResult()
    with tempfile.TemporaryDirectory(prefix="geolab-bench-signals-") as tmp:
        for i in range(runs):
            sig = signal.SIGINT if i % 2 == 0 else signal.SIGTERM
            one(backend, sig, rng.uniform(0.0, LONGEST), Path(tmp), result)
    landed = result.runs - result.finished
    took = sorted(result.took)
    print(f"{result.runs} runs on {backend}, a SIGINT or SIGTERM at a random moment of each; "
          f"{landed} landed before the run ended")  # fmt: skip
    print("exit codes: " + ", ".join(f"{c}: {n}" for c, n in sorted(result.exits.items())))
    if took:
        print(f"signal to exit: median {took[len(took) // 2]:.2f} s, max {took[-1]:.2f} s "
              f"(bound {BOUND:g} s; over it: {len(result.slow)})")  # fmt: skip
    if result.died:
        print(f"died by the signal (it came before geolab's first line ran, as the "
              f"interpreter started): {len(result.died)}, at "
              + ", ".join(f"{at * 1000:.0f} ms" for at in sorted(result.died)))  # fmt: skip
    print(f"a verdict (exit 0/1) after a cancel: {result.verdicts}")
    print(f"left behind without geolab cleanup: {len(result.left)}")
    for line in result.left[:10]:
        print(f"  {line}")
    return 0 if result.clean else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.signals", description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--backend", default="embedded", choices=["embedded", "kamailio"])
    parser.add_argument("--seed", type=int, default=1)
    ns = parser.parse_args()
    raise SystemExit(main(ns.runs, ns.backend, ns.seed))
