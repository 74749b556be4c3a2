"""What this machine has for the lab (``geolab doctor``): each piece the backends,
drivers, parties and faults use, found or not, what its absence makes not applicable (or
changes), and the command that installs it. Nothing is started but what a check needs to
ask (Docker's engine, once, with a short timeout)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker

from endpoint.compiled import verdict as compiled_verdict
from lab.drill import load_scenario
from lab.drivers.browser import bundle
from lab.errors import LabError
from lab.parties.sipp import sipp_binary
from lab.sites.kamailio import kamailio_binary, tls_module_installed, websocket_module_installed

LIBRARY = Path(__file__).parents[2] / "scenarios"
ENGINE_TIMEOUT = 2.0  # s Docker's engine has to answer


@dataclass(frozen=True)
class Piece:
    """One thing the lab may use: whether it is here, and if not, what that costs."""

    name: str
    found: bool
    detail: str  # where it was found, or why it was not
    without: str  # what its absence makes N/A or changes
    install: str  # the command that installs it
    blocks_library: bool = False  # the library cannot run here without it


@dataclass(frozen=True)
class Uses:
    """What the library's drills need, by drill name."""

    tls: tuple[str, ...]
    ws: tuple[str, ...]
    kernel: tuple[str, ...]


def library_uses(folder: Path = LIBRARY) -> Uses:
    tls: list[str] = []
    ws: list[str] = []
    kernel: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            s = load_scenario(path)
        except (ValueError, OSError, LabError):
            continue  # (a broken drill says so when it is run)
        transports = {c.protocol or s.topology.transport for c in s.endpoint.connections}
        if transports & {"tls", "wss"}:
            tls.append(path.stem)
        if transports & {"ws", "wss"}:
            ws.append(path.stem)
        if any(getattr(getattr(step, "fault", None), "via", None) == "kernel"
               for step in s.steps):  # fmt: skip
            kernel.append(path.stem)
    return Uses(tuple(tls), tuple(ws), tuple(kernel))


def _few(names: Sequence[str]) -> str:
    shown = ", ".join(names[:4])
    return f"{len(names)} drill(s): {shown}{', …' if len(names) > 4 else ''}"


def _which(program: str) -> tuple[bool, str]:
    found = shutil.which(program)
    return found is not None, found or f"no {program} on PATH"


def _docker() -> tuple[bool, str]:
    try:
        client = docker.from_env(timeout=ENGINE_TIMEOUT)
        client.ping()
        client.close()
    except Exception as exc:  # the SDK raises its own kinds and requests': none answers
        return False, f"no engine answers ({type(exc).__name__})"
    return True, os.environ.get("DOCKER_HOST", "the default socket")


def _nft() -> tuple[bool, str]:
    found, where = _which("nft")
    if not found:
        return False, where
    if os.geteuid() != 0:
        return False, f"{where}, but kernel faults need root"
    return True, where


def examine(uses: Uses | None = None, docker: Callable[[], tuple[bool, str]] = _docker
            ) -> list[Piece]:  # fmt: skip
    """Every piece, in the order a reader sets a machine up."""
    uses = uses or library_uses()
    kamailio = kamailio_binary()
    pieces = [
        Piece("Kamailio", kamailio is not None, kamailio or "not found",
              "backend kamailio; with backend auto the library runs on the embedded sites",
              "apt-get install -y kamailio"),
    ]  # fmt: skip
    if kamailio is not None:  # its modules matter only where it is
        pieces += [
            Piece("Kamailio's TLS module", tls_module_installed(), "tls.so",
                  f"TLS and wss on Kamailio sites: {_few(uses.tls)}",
                  "apt-get install -y kamailio-tls-modules", blocks_library=bool(uses.tls)),
            Piece("Kamailio's WebSocket module", websocket_module_installed(), "websocket.so",
                  f"ws and wss on Kamailio sites: {_few(uses.ws)}",
                  "apt-get install -y kamailio-websocket-modules",
                  blocks_library=bool(uses.ws)),
        ]  # fmt: skip
    sipp = sipp_binary()
    nft, nft_detail = _nft()
    baresip, baresip_at = _which("baresip")
    chromium, chromium_at = _which("chromium")
    certutil, certutil_at = _which("certutil")
    built = [lib for lib in ("jssip", "sipjs") if bundle(lib).exists()]
    engine, engine_detail = docker()
    why_pure = compiled_verdict()
    pieces += [
        Piece("SIPp", sipp is not None, sipp or "not found",
              "the remote parties run as geolab's Python callers and callees instead; "
              "geolab bench fleet has no SIPp to compare with", "apt-get install -y sip-tester"),
        Piece("nft (kernel faults)", nft, nft_detail,
              "faults with via: kernel" + (f" ({_few(uses.kernel)})" if uses.kernel else
                                           " (no library drill uses them)"),
              "apt-get install -y nftables (and run as root)", blocks_library=bool(uses.kernel)),
        Piece("baresip", baresip, baresip_at, "driver baresip: every drill N/A",
              "apt-get install -y baresip"),
        Piece("PJSIP's wheel (pjsua2-python)", importlib.util.find_spec("pjsua2") is not None,
              "import pjsua2", "driver pjsua2: every drill N/A", "pip install pjsua2-python"),
        Piece("Chromium", chromium, chromium_at, "drivers jssip, sipjs and page: every drill N/A",
              "apt-get install -y chromium"),
        Piece("certutil (NSS tools)", certutil, certutil_at,
              "wss drills with the browser drivers (Chromium trusts the lab's CA through it)",
              "apt-get install -y libnss3-tools"),
        Piece("the pages' bundles (JsSIP, SIP.js)", len(built) == 2,
              ", ".join(str(bundle(lib)) for lib in built) or "not built",
              "drivers jssip and sipjs (a page of one's own still runs with driver page)",
              "./run setup (npm ci, then esbuild; apt-get install -y npm)"),
        Piece("Docker engine", engine, engine_detail, "backend compose",
              "sudo compose/engine.sh up (a private engine; images built locally)"),
        Piece("the compiled core", not why_pure, why_pure or "compiled with mypyc",
              "runs on the pure-Python sources instead (about half the speed)",
              "python -m endpoint.compile build"),
    ]  # fmt: skip
    return pieces


def library_can_run(pieces: list[Piece]) -> bool:
    return not any(p.blocks_library and not p.found for p in pieces)
