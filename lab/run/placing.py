"""A drill's endpoint read from its own settings file (``endpoint.config``): each
connection's server names one of the drill's sites, and is pointed at where the lab
reaches it (its fault proxy; over TLS, trusting the lab's CA)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from endpoint.config import SECURE, EndpointConfig
from endpoint.configfile import load
from lab.errors import LabError
from lab.labs.interface import LabInterface


def placed_config(
    path: Path, written: str, lab: LabInterface, placed: Callable[[int, str], object]
) -> EndpointConfig:
    """The file at ``path`` (``written`` as the drill names it) on ``lab``'s sites;
    ``placed(connection, site)`` is told where each connection is."""
    base = load(path)
    conns = []
    for cfg in base.connections:
        if cfg.server not in lab.sites:
            raise LabError(f"endpoint config {written}: server {cfg.server!r} is not a site")
        ip, port = lab.target(cfg.server, cfg.protocol)
        domain = lab.site(cfg.server).spec.domain
        placed(cfg.id, cfg.server)
        update: dict[str, object] = {"server": ip, "port": port, "domain": domain}
        if cfg.protocol in SECURE:  # the lab's sites present the lab's certificates
            update |= {"tls_ca": lab.tls_ca(), "tls_server_name": None}
        conns.append(cfg.model_copy(update=update))
    return base.model_copy(update={"connections": conns, "dns_server": lab.dns_server()})
