"""A site made of one local Kamailio process (Debian package ``kamailio``).

Each site runs in its own session (process group) so that kill, hang and resume reach
Kamailio's children too; it has its own 127.x address, runtime folder and generated
config, and is started and stopped by PID.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import signal
import subprocess
from pathlib import Path

from lab.errors import LabError, SiteStartError
from lab.procs import live_members, signal_group, wait_group_gone
from lab.sites.base import Site, SiteSpec

TEMPLATE = Path(__file__).with_name("templates") / "kamailio.cfg"


def kamailio_binary() -> str | None:
    return shutil.which("kamailio") or next(
        (p for p in ("/usr/sbin/kamailio", "/usr/local/sbin/kamailio") if os.access(p, os.X_OK)),
        None,
    )


def module_path() -> str:
    for pattern in (
        "/usr/lib/*/kamailio/modules",
        "/usr/lib/kamailio/modules",
        "/usr/local/lib*/kamailio/modules",
    ):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0] + "/"
    raise LabError("Kamailio modules not found", hint="apt-get install -y kamailio")


def render_config(spec: SiteSpec, rundir: Path, *, debug: int = 1) -> str:
    auth = ""
    if spec.password is not None:
        auth = (
            f'    if (!pv_auth_check("$td", "{spec.password}", "0", "1")) {{\n'
            '        auth_challenge("$td", "0");\n'
            "        exit;\n"
            "    }\n"
            "    consume_credentials();"
        )
    peers = "\n".join(
        f'    if ($rd == "{domain}") {{\n'
        f'        $du = "sip:{ip}:{port}";\n'
        "        route(RELAY);\n"
        "    }"
        for domain, (ip, port) in sorted(spec.peers.items())
    )
    values = {
        "NAME": spec.name,
        "DOMAIN": spec.domain,
        "IP": spec.ip,
        "PORT": str(spec.port),
        "RUNDIR": str(rundir),
        "MPATH": module_path(),
        "DEBUG": str(debug),
        "FR_TIMER": str(int(spec.fr_timer * 1000)),
        "FR_INV_TIMER": str(int(spec.fr_inv_timer * 1000)),
        "AUTH_CHECK": auth,
        "PEER_ROUTES": peers or "    return;",
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    return text


class KamailioSite(Site):
    backend = "kamailio"

    def __init__(self, spec: SiteSpec, rundir: Path, *, shm_mb: int = 32, pkg_mb: int = 8) -> None:
        super().__init__(spec)
        self.rundir = rundir
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = rundir / "kamailio.log"
        self.cfg_path = rundir / "kamailio.cfg"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def command(self) -> list[str]:
        binary = kamailio_binary()
        if binary is None:
            raise LabError("kamailio is not installed", hint="apt-get install -y kamailio")
        return [
            binary,
            "-DD",
            "-E",
            "-f",
            str(self.cfg_path),
            "-Y",
            str(self.rundir),
            "-P",
            str(self.rundir / "kamailio.pid"),
            "-m",
            str(self.shm_mb),
            "-M",
            str(self.pkg_mb),
        ]

    async def _launch(self) -> None:
        self.rundir.mkdir(parents=True, exist_ok=True)
        (self.rundir / "kamailio.pid").unlink(missing_ok=True)
        self.cfg_path.write_text(render_config(self.spec, self.rundir))
        cmd = self.command()
        with self.log_path.open("ab") as log:
            # Popen, not asyncio's subprocess: the process must outlive any one event loop
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.record_pid(self.proc.pid)
        try:
            await self.wait_ready(timeout=10.0)
        except BaseException as exc:
            await asyncio.shield(self._terminate())
            if not isinstance(exc, TimeoutError):
                raise
            raise SiteStartError(
                f"site {self.name!r}: kamailio did not answer OPTIONS on "
                f"{self.spec.ip}:{self.spec.port}: {exc}\ncommand: {' '.join(cmd)}",
                log=self.log_tail(),
                hint=f"check the generated config {self.cfg_path}",
            ) from None

    def _exited(self) -> bool:
        return self.proc is None or self.proc.poll() is not None

    def _signal(self, sig: int) -> None:
        if self.proc is not None:
            signal_group(self.proc.pid, sig)

    async def _terminate(self) -> None:
        """SIGTERM the group, then SIGKILL it if it has not gone within a second."""
        if self.proc is None:
            return
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGTERM)
        if not await self._wait_exit(1.0):
            self._signal(signal.SIGKILL)
            await self._wait_exit(5.0)
        await self._reap_group()

    async def _reap_group(self) -> None:
        """Children can outlive the main process: kill the group until none is left."""
        assert self.proc is not None
        self._signal(signal.SIGKILL)
        if not await wait_group_gone(self.proc.pid, 5.0):
            raise LabError(
                f"site {self.name!r}: processes {live_members(self.proc.pid)} survived SIGKILL"
            )
        self.forget_pid()

    async def _wait_exit(self, timeout: float) -> bool:
        assert self.proc is not None
        proc = self.proc
        try:
            await asyncio.wait_for(asyncio.to_thread(proc.wait), timeout)
        except TimeoutError:
            return False
        return True

    async def _kill(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGKILL)
            await self._wait_exit(5.0)
            await self._reap_group()

    async def _hang(self) -> None:
        self._signal(signal.SIGSTOP)

    async def _resume(self) -> None:
        self._signal(signal.SIGCONT)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
