"""Building the requests a user agent sends (RFC 3261 8.1.1)."""

from __future__ import annotations

import functools

from endpoint.sip.headers import Headers
from endpoint.sip.message import Request
from endpoint.sip.uri import URI, SipURI


def via_value(transport: str, host: str, port: int, branch: str) -> str:
    head, tail = via_around(transport, host, port)
    return head + branch + tail


@functools.lru_cache(maxsize=256)
def via_around(transport: str, host: str, port: int) -> tuple[str, str]:
    """What a Via value of ours holds before its branch and after it (one per sender)."""
    hostpart = f"[{host}]" if ":" in host else host
    return f"SIP/2.0/{transport.upper()} {hostpart}:{port};branch=", ";rport"


def build_request(
    method: str,
    uri: URI,
    *,
    via: str,
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    contact: str | None = None,
    max_forwards: int = 70,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Request:
    headers = Headers.of_entries(
        [
            ("via", "Via", via),
            ("max-forwards", "Max-Forwards", str(max_forwards)),
            ("from", "From", from_),
            ("to", "To", to),
            ("call-id", "Call-ID", call_id),
            ("cseq", "CSeq", f"{cseq} {method}"),
        ]
    )
    if contact is not None:
        headers.add("Contact", contact)
    for name, value in extra or ():
        headers.add(name, value)
    if body and content_type:
        headers.add("Content-Type", content_type)
    return Request(headers, body, method, uri)


@functools.lru_cache(maxsize=1024)
def registrar_uri(domain: str, scheme: str = "sip") -> SipURI:
    """A REGISTER's Request-URI, the domain alone (URIs are frozen: one per domain will do)."""
    return SipURI(host=domain, scheme=scheme)


def build_register(
    user: str,
    domain: str,
    *,
    via: str,
    tag: str,
    call_id: str,
    contact: str,
    expires: int,
    cseq: int = 1,
    extra: list[tuple[str, str]] | None = None,
    scheme: str = "sip",
) -> Request:
    """A REGISTER binding ``contact`` to ``sip:user@domain`` (RFC 3261 10.2): the AoR in
    From and To, the domain as Request-URI (``scheme`` "sips" for both over TLS)."""
    aor = f"<{scheme}:{user}@{domain}>"
    return build_request(
        "REGISTER",
        registrar_uri(domain, scheme),
        via=via,
        from_=f"{aor};tag={tag}",
        to=aor,
        call_id=call_id,
        cseq=cseq,
        contact=contact,
        extra=[("Expires", str(expires)), *(extra or ())],
    )


def same_branch_request(invite: Request, method: str, to: str) -> Request:
    """A CANCEL (RFC 3261 9.1) or the ACK for a non-2xx answer (17.1.1.3): the INVITE's top
    Via (same branch), Route set, From, Call-ID and CSeq number, with ``to`` as To."""
    headers = Headers()
    headers.add("Via", invite.headers.get("Via") or "")
    for route in invite.headers.get_all("Route"):
        headers.add("Route", route)
    headers.add("Max-Forwards", "70")
    headers.add("From", invite.headers.get("From") or "")
    headers.add("To", to)
    headers.add("Call-ID", invite.call_id)
    headers.add("CSeq", f"{invite.cseq.seq} {method}")
    return Request(method=method, uri=invite.uri, headers=headers)
