"""``parse_message``: bytes in, a typed Request or Response out, or a ParseError."""

from __future__ import annotations

import re

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import is_token
from endpoint.sip.headers import (
    LIST_HEADERS,
    SINGLE_HEADERS,
    Headers,
    canonical_name,
    split_values,
)
from endpoint.sip.message import Message, Request, Response
from endpoint.sip.plainvalues import check_call_id, check_content_type, check_date, parse_uint
from endpoint.sip.uri import parse_uri
from endpoint.sip.values import check_name_addr, check_via, parse_cseq

_END_OF_HEADERS = re.compile(rb"\r?\n\r?\n")
_LINE_BREAK = re.compile(r"\r?\n")
_FOLD = re.compile(r"\r?\n[ \t]+")
_STATUS_LINE = re.compile(r"SIP/2\.0 ([1-6][0-9]{2})(?: (.*))?")
MANDATORY = ("Via", "From", "To", "Call-ID", "CSeq")
NAME_ADDR_HEADERS = ("From", "To", "Contact", "Route", "Record-Route", "Reply-To")


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """Split off the header block at the first empty line (leading CRLFs skipped)."""
    if data[:1] in (b"\r", b"\n"):
        data = data.lstrip(b"\r\n")
    end = data.find(b"\r\n\r\n")
    if end >= 0 and data.count(b"\n", 0, end) == data.count(b"\r\n", 0, end):
        return data[:end], data[end + 4 :]  # CRLFs only up to there: the first empty line
    match = _END_OF_HEADERS.search(data)
    if match is None:
        raise ParseError("no empty line after the header fields", "message")
    return data[: match.start()], data[match.end() :]


_NAMES: dict[str, tuple[str, str]] = {}  # valid header name -> (key, canonical name)


def _header_names(name: str, line: str) -> tuple[str, str]:
    known = _NAMES.get(name)
    if known is not None:
        return known
    if not is_token(name):
        raise ParseError(f"not a header field: {line!r}", "header")
    cname = canonical_name(name)
    known = (cname.lower(), cname)
    if len(_NAMES) < 4096:
        _NAMES[name] = known
    return known


def parse_head(head: bytes) -> tuple[str, Headers, list[str]]:
    """The start line, the header fields and, kept apart, the Content-Length values (the
    framing's, not the message's: a message's length is its body's)."""
    text = head.decode("utf-8", "surrogateescape")
    if "\n " in text or "\n\t" in text:
        text = _FOLD.sub(" ", text)
    lines = text.split("\r\n")
    if text.count("\n") != len(lines) - 1:  # bare LFs (alone or among CRLFs)
        lines = _LINE_BREAK.split(text)
    entries: list[tuple[str, str, str]] = []
    lengths: list[str] = []
    # (no line begins with white space now: a continuation was folded into the line
    # before it, and one after the start line into the start line, which then fails)
    for line in lines[1:]:
        colon = line.find(":")
        if colon < 0:
            raise ParseError(f"not a header field: {line!r}", "header")
        key, cname = _header_names(line[:colon].rstrip(" \t"), line)
        value = line[colon + 1 :].strip(" \t")
        if "," in value and cname in LIST_HEADERS:
            entries.extend((key, cname, v) for v in split_values(cname, value))
        elif key == "content-length":
            lengths.append(value)
        else:
            entries.append((key, cname, value))
    return lines[0], Headers.of_entries(entries), lengths


_MANDATORY_KEYS = tuple((name.lower(), name) for name in MANDATORY)
_SINGLE_KEYS = tuple((name.lower(), name) for name in SINGLE_HEADERS)
_NAME_ADDR_KEYS = tuple((name.lower(), name) for name in NAME_ADDR_HEADERS)


def _validate(message: Message) -> None:
    found = message.headers.index()
    for key, name in _MANDATORY_KEYS:
        if key not in found:
            raise ParseError("missing mandatory header", name)
    if len(found) < len(message.headers.entries()):  # some header came more than once
        for key, name in _SINGLE_KEYS:
            if len(found.get(key, ())) > 1:
                raise ParseError("more than one value", name)
    for value in found["via"]:
        check_via(value)
    for key, name in _NAME_ADDR_KEYS:
        for value in found.get(key, ()):
            check_name_addr(value, name)
    check_call_id(found["call-id"][0])
    cseq = parse_cseq(found["cseq"][0])
    if isinstance(message, Request) and cseq.method != message.method:
        raise ParseError(f"method {cseq.method} does not match {message.method}", "CSeq")
    if (mf := found.get("max-forwards")) is not None:
        parse_uint(mf[0], "Max-Forwards", 255)
    if (date := found.get("date")) is not None:
        check_date(date[0])
    if (ctype := found.get("content-type")) is not None:
        check_content_type(ctype[0])


def _start(start_line: str, headers: Headers) -> Message:
    if start_line.startswith("SIP/"):
        match = _STATUS_LINE.fullmatch(start_line)
        if match is None:
            raise ParseError(f"bad status line {start_line!r}", "status line")
        return Response(headers=headers, status=int(match.group(1)), reason=match.group(2) or "")
    parts = start_line.split(" ")
    if len(parts) != 3:
        raise ParseError(f"expected 'METHOD URI SIP/2.0', got {start_line!r}", "request line")
    method, uri_text, version = parts
    if version != "SIP/2.0":
        status = 505 if version.startswith("SIP/") else 400
        raise ParseError(f"unsupported version {version!r}", "request line", status=status)
    if not is_token(method):
        raise ParseError(f"bad method {method!r}", "request line")
    uri = parse_uri(uri_text, "Request-URI", allow_headers=False)
    return Request(headers=headers, method=method, uri=uri)


def parse_message(data: bytes, *, stream: bool = False) -> Message:
    """Parse one SIP message.

    A datagram (``stream=False``) may lack Content-Length (the body is the rest) and may
    carry trailing junk after the declared body, which is ignored (RFC 3261 18.3). With
    ``stream=True`` the framer has already cut the message to its declared length.
    Any malformation raises :class:`ParseError`, never another exception.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ParseError(f"expected bytes, got {type(data).__name__}", "message")
    head, body = split_head(bytes(data))
    start_line, headers, cl_values = parse_head(head)
    if len(cl_values) > 1:
        raise ParseError("more than one value", "Content-Length")
    if cl_values:
        length = parse_uint(cl_values[0], "Content-Length", 2**31)
        if len(body) < length:
            raise ParseError(
                f"declares {length} bytes of body, {len(body)} arrived", "Content-Length"
            )
        body = body[:length]
    elif stream:
        raise ParseError("missing on a stream transport", "Content-Length")
    message = _start(start_line, headers)
    message.body = body
    _validate(message)
    return message
