"""What a lab has started, on disk, so that ``geolab down`` / ``geolab cleanup`` can
remove what a killed run left: processes (by PID, checked against their command line so a
reused PID is never hit), nftables tables, containers and folders."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.faults.kernel import delete_table
from lab.sites.containers import remove_containers
from lab.system.procs import live_members, processes_mentioning, signal_group


def state_dir() -> Path:
    return Path(os.environ.get("GEOLAB_STATE_DIR", "/tmp/geolab-state"))


@dataclass
class Tracked:
    name: str
    pid: int
    marker: str  # a string its command line must contain


@dataclass
class LabState:
    id: str
    workdir: str
    runner_pid: int = field(default_factory=os.getpid)
    created: float = field(default_factory=time.time)
    processes: list[Tracked] = field(default_factory=list)
    nft_tables: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    compose_projects: list[str] = field(default_factory=list)
    control: str | None = None  # the holder's control socket (geolab up)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.id}.json"

    def save(self) -> None:
        state_dir().mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def track(self, name: str, pid: int | None, marker: str) -> None:
        self.processes = [p for p in self.processes if p.name != name]
        if pid is not None:
            self.processes.append(Tracked(name, pid, marker))
        self.save()

    @classmethod
    def load(cls, path: Path) -> LabState:
        data = json.loads(path.read_text())
        data["processes"] = [Tracked(**p) for p in data.get("processes", [])]
        return cls(**data)


def all_states() -> list[LabState]:
    found = []
    for path in sorted(state_dir().glob("*.json")):
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            found.append(LabState.load(path))
    return found


def runner_alive(state: LabState) -> bool:
    return _matches(state.runner_pid, "python") and state.runner_pid != os.getpid()


def _matches(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


async def cleanup(state: LabState) -> list[str]:
    """Remove everything ``state`` records; return what was done."""
    done = []
    for proc in state.processes:
        if _matches(proc.pid, proc.marker):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGCONT)
            signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
            done.append(f"killed {proc.name} (pid {proc.pid})")
        for pid in live_members(proc.pid):
            if _matches(pid, proc.marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    # anything started for this lab whose PID never reached the state file
    for pid in processes_mentioning(state.workdir):
        signal_group(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
        done.append(f"killed unrecorded process {pid}")
    for table in state.nft_tables:
        with contextlib.suppress(Exception):
            await delete_table(table)
            done.append(f"deleted nft table {table}")
    if state.containers or state.compose_projects:
        done += await remove_containers(state.containers, state.compose_projects)
    state.remove()
    return done
