"""Removing what a lab left behind (its runner killed, or gone): the processes its state
file records, and those it started whose PID never reached it, its nft tables, containers,
certificates and folder. Only what the state file names, and only this user's."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path

from lab.faults.kernel import delete_table
from lab.sites.containers import remove_containers
from lab.system.procs import (
    leads_own_session,
    live_members,
    processes_mentioning,
    signal_group,
    start_time,
)
from lab.system.state import LabState, matches, remove_lab_folder, workdir_ok


async def cleanup(state: LabState) -> list[str]:
    """Remove everything ``state`` records; return what was done."""
    done = []
    for proc in state.processes:
        if matches(proc.pid, proc.marker, proc.started):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGCONT)
            signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(proc.pid, signal.SIGKILL)
            done.append(f"killed {proc.name} (pid {proc.pid})")
        leader = start_time(proc.pid)
        same = leader is None or proc.started is None or leader == proc.started
        for pid in live_members(proc.pid) if same else []:  # the group outlives its leader
            if matches(pid, proc.marker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    # anything started for this lab whose PID never reached the state file: the lab starts
    # each process in a session of its own, so only a session leader naming the lab's
    # folder is one of its own, and only its group is one the lab made (a `less` of the
    # lab's log in a terminal is another's, and so is the terminal's job around it)
    for pid in processes_mentioning(state.workdir) if workdir_ok(state.workdir) else []:
        if not leads_own_session(pid):
            continue
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
    keys = Path(state.workdir) / "tls"  # the lab's CA and site keys (lab.system.certs)
    if workdir_ok(state.workdir) and keys.is_dir() and keys.stat().st_uid == os.getuid():
        shutil.rmtree(keys, ignore_errors=True)
        done.append(f"removed the lab's certificates ({keys})")
    done += remove_lab_folder(state)
    state.remove()
    return done
