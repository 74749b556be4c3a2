"""Readiness and liveness of a SIP site: an OPTIONS ping (RFC 3261 11)."""

from __future__ import annotations

import asyncio

from endpoint.aio.stack import SipStack
from endpoint.sip.builder import build_request
from endpoint.sip.timers import TimerConfig
from endpoint.sip.uri import SipURI


async def options_ping(
    host: str, port: int, *, transport: str = "udp", timeout: float = 2.0, source: str = "127.0.0.1"
) -> int | None:
    """Send one OPTIONS; return the status code, or None if nothing answered in time."""
    t1 = min(0.5, timeout / 64)
    timers = {t: TimerConfig(t1=t1, t2=max(t1, 0.25), t4=t1) for t in ("udp", "tcp")}
    async with SipStack(source, 0, transports=(transport,), timers=timers) as stack:
        request = build_request(
            "OPTIONS",
            SipURI(host=host, port=port),
            via=stack.via(transport),
            from_=f"<sip:probe@{source}>;tag={stack.ids.tag()}",
            to=f"<sip:{host}:{port}>",
            call_id=stack.ids.call_id(source),
            cseq=1,
        )
        try:
            event = await asyncio.wait_for(
                stack.transact(request, (host, port), transport), timeout + 1
            )
        except TimeoutError:
            return None
        return None if event.local else event.response.status


async def wait_until_answering(
    host: str,
    port: int,
    *,
    transport: str = "udp",
    timeout: float = 10.0,
    source: str = "127.0.0.1",
) -> float:
    """Ping until a response comes; return how long it took. Raises TimeoutError."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < timeout:
        status = await options_ping(host, port, transport=transport, timeout=0.5, source=source)
        if status is not None:
            return loop.time() - start
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{host}:{port}/{transport} did not answer OPTIONS in {timeout:.1f}s")
