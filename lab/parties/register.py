"""Registering a remote party (a SIPp callee) on a site before it starts.

Sites route towards the address a REGISTER came from (NAT-style, so a fault proxy in the
path stays in the path). So the registration is sent from the very address and port the
party will listen on: call this before starting the party on that port.
"""

from __future__ import annotations

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_register
from lab.errors import LabError


async def register_party(
    site: tuple[str, int],
    domain: str,
    user: str,
    *,
    host: str,
    port: int,
    transport: str = "udp",
    expires: int = 3600,
) -> None:
    """REGISTER ``user@domain`` at ``site`` from ``host:port`` with that as Contact."""
    async with SipStack(host, port, transports=(transport,)) as stack:
        request = build_register(
            user,
            domain,
            via=stack.via(transport),
            tag=stack.ids.tag(),
            call_id=stack.ids.call_id(host),
            contact=f"<sip:{user}@{host}:{port};transport={transport}>",
            expires=expires,
        )
        response = await stack.request(request, site, transport)
    if response.status != 200:
        raise LabError(f"registering {user} at {site[0]}:{site[1]} got {response.status}")
