"""What a lab has started, on disk, so that ``geolab down`` / ``geolab cleanup`` can
remove what a killed run left: processes (by PID, checked against their start time and
command line so a reused PID is never hit), nftables tables, containers and folders.

A lab is its runner's: the state names the runner by PID and start time. Only state
files this user owns, in a folder no one else can write, are trusted."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lab.system.procs import (
    start_time,
)

log = logging.getLogger("lab.state")


def state_dir() -> Path:
    return Path(os.environ.get("GEOLAB_STATE_DIR", "/tmp/geolab-state"))


def _own_start() -> int | None:
    return start_time(os.getpid())


@dataclass
class Tracked:
    name: str
    pid: int
    marker: str  # a string its command line must contain
    started: int | None = None  # its start time (see procs.start_time)


@dataclass
class LabState:
    id: str
    workdir: str
    runner_pid: int = field(default_factory=os.getpid)
    runner_started: int | None = field(default_factory=_own_start)
    created: float = field(default_factory=time.time)
    processes: list[Tracked] = field(default_factory=list)
    nft_tables: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    compose_projects: list[str] = field(default_factory=list)
    control: str | None = None  # the holder's control socket (geolab up)
    info: dict[str, object] = field(default_factory=dict)
    made_workdir: bool = False  # the lab made its folder (and removes it when it stops)
    keep_workdir: bool = False  # … but keeps it: `geolab up`'s journal and logs are in it

    @property
    def path(self) -> Path:
        return state_dir() / f"{self.id}.json"

    def save(self) -> None:
        folder = state_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

    def track(self, name: str, pid: int | None, marker: str) -> None:
        self.processes = [p for p in self.processes if p.name != name]
        if pid is not None:
            self.processes.append(Tracked(name, pid, marker, start_time(pid)))
        self.save()

    @classmethod
    def load(cls, path: Path) -> LabState:
        data = json.loads(path.read_text())
        data["processes"] = [Tracked(**p) for p in data.get("processes", [])]
        return cls(**data)


def trusted(path: Path) -> str | None:
    """Why ``path`` (a state file) is not to be trusted, or None: it and its folder must
    be this user's and writable by no one else."""
    me = os.geteuid()
    for where in (path.parent, path):
        try:
            st = where.lstat()
        except OSError as exc:
            return f"{where}: {exc.strerror}"
        if st.st_uid != me:
            return f"{where} belongs to uid {st.st_uid}, not {me}"
        if st.st_mode & 0o022:
            return f"{where} is writable by others (mode {st.st_mode & 0o777:o})"
        if where is path and not stat.S_ISREG(st.st_mode):
            return f"{where} is not a regular file"
    return None


def all_states(*, untrusted: list[str] | None = None) -> list[LabState]:
    """The state files to act on; those not trusted are skipped (and said in
    ``untrusted``)."""
    found = []
    for path in sorted(state_dir().glob("*.json")):
        why = trusted(path)
        if why is not None:
            log.warning("ignoring state file %s: %s", path, why)
            if untrusted is not None:
                untrusted.append(f"{path}: {why}")
            continue
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            found.append(LabState.load(path))
    return found


def runner_alive(state: LabState) -> bool:
    """The runner that wrote ``state`` still runs (the same process: PID and start time)."""
    if state.runner_pid == os.getpid():
        return False
    if state.runner_started is not None and start_time(state.runner_pid) != state.runner_started:
        return False
    return matches(state.runner_pid, "python")


def matches(pid: int, marker: str, started: int | None = None) -> bool:
    if not marker or (started is not None and start_time(pid) != started):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return marker in cmdline


def workdir_ok(workdir: str) -> bool:
    """A lab's folder, specific enough to find its processes by (never "" or "/")."""
    path = Path(workdir)
    return path.is_absolute() and len(path.parts) >= 3


# the files of a lab's folder that hold a secret: a Kamailio site's config (its digest
# password), an embedded site's password file, a container site's TLS key
SECRET_NAMES = ("kamailio.cfg", "password", "key.pem")


def remove_lab_folder(state: LabState) -> list[str]:
    """The lab's folder removed when the lab made it and need not keep it; else only the
    files in it that hold a secret. What was done, said."""
    folder = Path(state.workdir)
    if not workdir_ok(state.workdir) or not folder.is_dir():
        return []
    try:
        if folder.stat().st_uid != os.getuid():
            return []
    except OSError:
        return []
    if state.made_workdir and not state.keep_workdir:
        shutil.rmtree(folder, ignore_errors=True)
        return [f"removed the lab's folder ({folder})"]
    removed = 0
    for name in SECRET_NAMES:
        for path in folder.rglob(name):
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink():
                    path.unlink()
                    removed += 1
    return [f"removed {removed} file(s) holding secrets from {folder}"] if removed else []
