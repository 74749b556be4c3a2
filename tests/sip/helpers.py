"""Message factories shared by the SIP core tests."""

from __future__ import annotations

from endpoint.sip import Request, SipURI
from endpoint.sip.builder import build_request, via_value


def request(
    method: str = "REGISTER", *, branch: str = "z9hG4bKtest1", transport: str = "UDP", cseq: int = 1
) -> Request:
    return build_request(
        method,
        SipURI(host="site.example"),
        via=via_value(transport, "192.0.2.10", 5060, branch),
        from_="<sip:1001@site.example>;tag=abc",
        to="<sip:1001@site.example>",
        call_id="call-1@192.0.2.10",
        cseq=cseq,
        contact="<sip:1001@192.0.2.10:5060>",
    )
