"""Requests and responses, their typed accessors, and serialisation."""

from __future__ import annotations

from dataclasses import dataclass, field

from endpoint.sip.headers import Headers
from endpoint.sip.plainvalues import parse_uint
from endpoint.sip.uri import URI
from endpoint.sip.values import CSeq, NameAddr, Via, parse_cseq, parse_name_addr, parse_via

REASONS = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    600: "Busy Everywhere",
    603: "Decline",
}


@dataclass(eq=True)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # --- typed views; each parses the header it reads ---------------------------------
    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def vias(self) -> list[Via]:
        return [parse_via(v) for v in self.headers.get_all("Via")]

    @property
    def via(self) -> Via:
        return parse_via(self.headers.get("Via") or "")

    @property
    def from_(self) -> NameAddr:
        return parse_name_addr(self.headers.get("From") or "", "From")

    @property
    def to(self) -> NameAddr:
        return parse_name_addr(self.headers.get("To") or "", "To")

    @property
    def contacts(self) -> list[NameAddr]:
        return [parse_name_addr(v, "Contact") for v in self.headers.get_all("Contact")]

    @property
    def expires(self) -> int | None:
        value = self.headers.get("Expires")
        return None if value is None else parse_uint(value, "Expires", 2**32 - 1)

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    def start_line(self) -> str:
        raise NotImplementedError

    def serialise(self) -> bytes:
        """Wire form; Content-Length always reflects the body."""
        head = "".join([f"{name}: {value}\r\n" for _, name, value in self.headers.entries()])
        text = f"{self.start_line()}\r\n{head}Content-Length: {len(self.body)}\r\n\r\n"
        return text.encode("utf-8", "surrogateescape") + self.body

    def __bytes__(self) -> bytes:
        return self.serialise()


@dataclass(eq=True)
class Request(_Message):
    method: str = "OPTIONS"
    uri: URI | None = None

    def __init__(  # written out: compiled code then builds a message natively
        self,
        headers: Headers | None = None,
        body: bytes = b"",
        method: str = "OPTIONS",
        uri: URI | None = None,
    ) -> None:
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.method = method
        self.uri = uri

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} call-id={self.call_id!r}>"

    def copy(self) -> Request:
        """A copy whose header list can change without touching this one."""
        return Request(self.headers.copy(), self.body, self.method, self.uri)


@dataclass(eq=True)
class Response(_Message):
    status: int = 200
    reason: str = "OK"

    def __init__(
        self,
        headers: Headers | None = None,
        body: bytes = b"",
        status: int = 200,
        reason: str = "OK",
    ) -> None:
        self.headers = Headers() if headers is None else headers
        self.body = body
        self.status = status
        self.reason = reason

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.reason} cseq={self.headers.get('CSeq')!r}>"

    def copy(self) -> Response:
        """A copy whose header list can change without touching this one."""
        return Response(self.headers.copy(), self.body, self.status, self.reason)


Message = Request | Response
_COPIED = frozenset(("from", "to", "call-id", "cseq"))


def make_response(
    request: Request, status: int, reason: str | None = None, *, to_tag: str | None = None
) -> Response:
    """A response to ``request`` per RFC 3261 8.2.6.2 (Via, From, To, Call-ID, CSeq copied)."""
    vias: list[tuple[str, str, str]] = []
    first: dict[str, tuple[str, str, str]] = {}
    for entry in request.headers.entries():
        key = entry[0]
        if key == "via":
            vias.append(entry)
        elif key in _COPIED and key not in first:
            first[key] = entry
    to = first["to"][2] if "to" in first else ""
    if (
        to_tag is not None
        and status > 100
        and ("tag" not in to.lower() or parse_name_addr(to, "To").tag is None)  # (no "tag": none)
    ):
        to = f"{to};tag={to_tag}"
    headers = Headers.of_entries(
        [
            *vias,
            first.get("from", ("from", "From", "")),
            ("to", "To", to),
            first.get("call-id", ("call-id", "Call-ID", "")),
            first.get("cseq", ("cseq", "CSeq", "")),
        ]
    )
    return Response(headers=headers, status=status, reason=reason or REASONS.get(status, "Unknown"))
