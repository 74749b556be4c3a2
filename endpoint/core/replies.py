"""Reading a site's answers (why a transaction failed, what expiry the registrar granted)
and the OPTIONS keep-alive a connection sends."""

from __future__ import annotations

import functools

from endpoint.core.connection import Connection
from endpoint.sip.builder import build_request
from endpoint.sip.errors import SipError
from endpoint.sip.events import ResponseReceived
from endpoint.sip.ids import IdSource
from endpoint.sip.message import Request, Response
from endpoint.sip.uri import SipURI
from endpoint.sip.values import checked_param_of, parse_name_addr


def keepalive_options(conn: Connection, via: str, ids: IdSource, local_host: str) -> Request:
    """An OPTIONS to the connection's server, out of any dialog."""
    server, port = conn.address
    return build_request(
        "OPTIONS",
        _server_uri(server, port),
        via=via,
        from_=f"<{conn.aor}>;tag={ids.tag()}",
        to=_server_to(server, port),
        call_id=ids.call_id(local_host),
        cseq=1,
    )


@functools.lru_cache(maxsize=1024)
def _server_to(host: str, port: int) -> str:
    """The keep-alive's To: the server itself."""
    return f"<sip:{host}:{port}>"


@functools.lru_cache(maxsize=1024)
def _server_uri(host: str, port: int | None) -> SipURI:
    """The keep-alive's Request-URI (URIs are frozen: one per server will do)."""
    return SipURI(host=host, port=port)


def failure_reason(event: ResponseReceived) -> str:
    if event.local and event.response.status == 408:
        return "timeout"
    if event.local:
        phrase = event.response.reason
        return (
            "transport error" if phrase == "Service Unavailable" else f"transport error: {phrase}"
        )
    return f"SIP {event.response.status} {event.response.reason}".strip()


def answered_code(event: ResponseReceived, mutant: str | None = None) -> int | None:
    """The code a failed REGISTER's ``Unavailable`` carries: the answer's status, save a
    408 the site sent itself. A 408 means the phone's own transaction timed out (the seed's
    sign of a dead site); RFC 4320 forbids an element to answer a non-INVITE request with
    408, so one that comes back is an answer from a site that is up: no code."""
    status = event.response.status
    if status == 408 and not event.local and mutant != "answered_408_is_timeout":
        return None
    return status


def retry_after(response: Response) -> int | None:
    """The seconds a ``Retry-After`` asks for (RFC 3261 20.33: ``delta-seconds``, then maybe
    a comment and parameters), or None."""
    value = (response.headers.get("Retry-After") or "").strip()
    digits = value[: len(value) - len(value.lstrip("0123456789"))]
    return int(digits) if digits and len(digits) <= 9 else None


def granted_expires(response: Response, our_contact: str) -> int | None:
    """The expiry the registrar granted our contact (its Contact param, else Expires)."""
    ours = our_contact.strip("<>").split(";")[0]
    for text in response.headers.get_all("Contact"):
        plain = checked_param_of(text, ours, "expires")  # the registrar's echo, as a rule
        if plain is not None:
            value = plain[0]
        else:
            contact = parse_name_addr(text, "Contact")
            if str(contact.uri).split(";")[0] != ours:
                continue
            value = contact.param("expires")
        if value:
            return int(value) if value.isdigit() else None
    try:
        return response.expires
    except SipError:
        return None
