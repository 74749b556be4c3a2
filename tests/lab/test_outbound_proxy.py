"""An endpoint whose outbound proxy is the fault proxy puts the proxy's address in a Route
header (as third-party phones do): the site takes that address as its own and answers,
instead of routing the request back through the proxy until Max-Forwards runs out."""

from __future__ import annotations

import asyncio
import socket

import pytest

from lab.labs.interface import LabConfig
from lab.real.lab import Lab

pytestmark = pytest.mark.interop


def register(target: tuple[str, int], domain: str, route: bool) -> bytes:
    ip, port = target
    local = "127.0.0.1"
    lines = [
        f"REGISTER sip:{domain} SIP/2.0",
        f"Via: SIP/2.0/UDP {local}:{{port}};branch=z9hG4bK-route-{int(route)};rport",
        "Max-Forwards: 70",
        f"From: <sip:7007@{domain}>;tag=t1",
        f"To: <sip:7007@{domain}>",
        "Call-ID: route-test@127.0.0.1",
        "CSeq: 1 REGISTER",
        f"Contact: <sip:7007@{local}:{{port}}>",
        "Expires: 60",
        *([f"Route: <sip:{ip}:{port};lr>"] if route else []),
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_route_to_the_fault_proxy_is_the_site_itself(backend: str) -> None:
    async def main() -> list[int]:
        async with Lab(LabConfig(backend=backend, sites=["a"])) as lab:
            codes = []
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.bind(("127.0.0.1", 0))
                sock.settimeout(3)
                port = sock.getsockname()[1]
                for route in (False, True):
                    data = register(lab.target("a"), lab.site("a").spec.domain, route)
                    sock.sendto(data.replace(b"{port}", str(port).encode()), lab.target("a"))
                    while True:
                        reply = await asyncio.to_thread(sock.recv, 65535)
                        status = int(reply.split(b" ", 2)[1])
                        if status >= 200:
                            codes.append(status)
                            break
            return codes

    assert asyncio.run(main()) == [200, 200]
