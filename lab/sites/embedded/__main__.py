"""``python -m lab.sites.embedded --name a --ip 127.0.1.1 [--port 5060] [--domain …]
[--password-file F] [--peer DOMAIN=IP:PORT …] [--tls-port 5061 --cert F --key F]
[--ws-port 5062] [--wss-port 5063]``: run one embedded site until SIGTERM (on UDP and TCP,
on TLS and wss when given a certificate, on ws when given its port)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

from endpoint.aio.sockets import Sockets
from endpoint.aio.tls import server_context
from endpoint.sip.events import Address
from endpoint.sip.message import Message
from lab.sites.embedded.core import SiteCore


async def serve(args: argparse.Namespace) -> None:
    peers: dict[str, Address] = {}
    for item in args.peer:
        domain, _, addr = item.partition("=")
        ip, _, port = addr.rpartition(":")
        peers[domain] = (ip, int(port))
    loop = asyncio.get_running_loop()
    core = SiteCore(
        name=args.name,
        domain=args.domain or f"{args.name}.geolab.test",
        address=(args.ip, args.port),
        password=_password(args),
        peers=peers,
        aliases=tuple((ip, int(port)) for ip, _, port in (a.rpartition(":") for a in args.alias)),
    )

    def on_message(message: Message, source: Address, transport: str) -> None:
        core.receive(message, source, transport, loop.time())
        for out in core.datagrams_to_send():
            sockets.transmit(out)

    tls = args.tls_port is not None and args.cert and args.key
    wss = args.wss_port is not None and args.cert and args.key
    transports = ("udp", "tcp", *(("tls",) if tls else ()), "ws", *(("wss",) if wss else ()))
    sockets = Sockets(
        args.ip,
        args.port,
        transports,
        on_message=on_message,
        on_failure=lambda *_: None,
        tls_server=server_context(args.cert, args.key) if tls or wss else None,
        tls_port=args.tls_port or 0,
        ws_port=args.ws_port,
        wss_port=args.wss_port if wss else None,
    )
    await sockets.start()
    ready = {"event": "Ready", "site": args.name, "address": f"{args.ip}:{args.port}"}
    if tls:
        ready["tls"] = f"{args.ip}:{sockets.tls_port}"
    for name, port in (("ws", sockets.ws_port), ("wss", sockets.wss_port)):
        if port is not None:
            ready[name] = f"{args.ip}:{port}"
    print(json.dumps(ready), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sockets.close()


def _password(args: argparse.Namespace) -> str | None:
    if args.password_file is None:
        return None
    return Path(args.password_file).read_text().strip("\n")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.sites.embedded", description=__doc__)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, default=5060)
    parser.add_argument("--domain")
    parser.add_argument("--password-file", help="a file holding the digest password")
    parser.add_argument("--peer", action="append", default=[], metavar="DOMAIN=IP:PORT")
    parser.add_argument("--alias", action="append", default=[], metavar="IP:PORT")
    parser.add_argument("--tls-port", type=int, help="listen on TLS too, on this port")
    parser.add_argument("--cert", help="the site's certificate chain (PEM), for TLS")
    parser.add_argument("--key", help="its private key (PEM)")
    parser.add_argument("--ws-port", type=int, help="listen on SIP over WebSocket, this port")
    parser.add_argument("--wss-port", type=int, help="and over secure WebSocket (a certificate)")
    parser.add_argument("--lab-dir", help="the site's folder (marks the process for clean-up)")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
