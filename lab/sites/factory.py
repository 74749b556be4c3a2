"""Choosing and building site backends by name."""

from __future__ import annotations

from pathlib import Path

from lab.errors import LabError
from lab.sites.base import Site, SiteSpec
from lab.sites.embedded.site import EmbeddedSite
from lab.sites.external import ExternalSite
from lab.sites.kamailio import (
    KamailioSite,
    kamailio_binary,
    tls_module_installed,
    websocket_module_installed,
)

BACKENDS = ("kamailio", "embedded", "compose", "external")


def resolve_backend(name: str) -> str:
    """``auto`` is kamailio where it is installed, else embedded."""
    if name == "auto":
        return "kamailio" if kamailio_binary() is not None else "embedded"
    if name not in BACKENDS:
        raise LabError(f"unknown site backend {name!r}; choose from auto, {', '.join(BACKENDS)}")
    return name


def tls_unavailable(backend: str) -> str | None:
    """Why sites of ``backend`` cannot offer TLS here, or None when they do (all but an
    external site's, whose certificate the lab did not make)."""
    if backend == "external":
        return "an external site's TLS is not the lab's to offer"
    if backend == "kamailio" and not tls_module_installed():
        return "Kamailio's TLS module is not installed (apt-get install -y kamailio-tls-modules)"
    return None


def ws_unavailable(backend: str) -> str | None:
    """Why sites of ``backend`` cannot offer SIP over WebSocket here, or None when they do."""
    if backend == "external":
        return "an external site's WebSocket port is not known to the lab"
    if backend == "kamailio" and not websocket_module_installed():
        return ("Kamailio's WebSocket module is not installed "
                "(apt-get install -y kamailio-websocket-modules)")  # fmt: skip
    return None


def make_site(backend: str, spec: SiteSpec, rundir: Path) -> Site:
    backend = resolve_backend(backend)
    if backend == "kamailio":
        if kamailio_binary() is None:
            raise LabError("the kamailio backend needs Kamailio", hint="apt-get install kamailio")
        return KamailioSite(spec, rundir)
    if backend == "embedded":
        return EmbeddedSite(spec, rundir)
    if backend == "external":
        return ExternalSite(spec)
    raise LabError("compose sites belong to a compose project: start them with a Lab")
