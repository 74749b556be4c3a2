"""Host names of sites, resolved off the event loop with a time limit, before the core
sees them: the core and the sockets only ever get IPv4 addresses (a resolver that does
not answer never stalls the loop, and answers from a site match its address)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from endpoint.config import ConfigError, ConnectionConfig, EndpointConfig

RESOLVE_TIMEOUT = 5.0  # s


def is_address(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


async def resolve_connection(cfg: ConnectionConfig) -> ConnectionConfig:
    """``cfg`` with its server as an IPv4 address (its name kept as the AOR domain)."""
    if is_address(cfg.server):
        return cfg
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(
                cfg.server, cfg.port, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
    except TimeoutError:
        raise ConfigError(
            f"{cfg.server}: no answer from the resolver within {RESOLVE_TIMEOUT:g}s",
            where=f"connection {cfg.id}",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{cfg.server}: cannot resolve ({exc})", where=f"connection {cfg.id}"
        ) from None
    address = str(infos[0][4][0])
    return cfg.model_copy(update={"server": address, "domain": cfg.domain or cfg.server})


async def resolve_config(config: EndpointConfig) -> EndpointConfig:
    if all(is_address(c.server) for c in config.connections):
        return config
    conns = [await resolve_connection(c) for c in config.connections]
    return config.model_copy(update={"connections": conns})
