"""Typed views of structured header values: parameters, Via, name-addr (From, To,
Contact), CSeq; and checks of values a message carries without building them."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Final

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import TOKEN, Scanner, is_token, quote, unquote
from endpoint.sip.textcache import TextCache
from endpoint.sip.uri import (
    URI,
    URI_CACHE,
    Params,
    SipURI,
    find_param,
    format_params,
    parse_host,
    parse_uri,
    set_param,
)

_TOK = r"[A-Za-z0-9\-.!%*_+`'~]"
_TOKV = r"[A-Za-z0-9\-.!%*_+`'~:\[\]]"  # a parameter's value: a token, a host or an IPv6 reference
_SIMPLE_PARAMS = re.compile(rf"(?:;{_TOK}++(?:={_TOKV}++)?)*+")
_SIMPLE_VIA = re.compile(
    rf"SIP/2\.0/({_TOK}+) ([A-Za-z0-9_\-][A-Za-z0-9\-._]*)(?::(\d{{1,5}}))?((?:;.*)?)"
)


def _simple_params(text: str) -> Params:
    """Parameters written without spaces or quotes (the common case), split directly."""
    out: list[tuple[str, str | None]] = []
    for item in text.split(";")[1:]:
        name, eq, value = item.partition("=")
        out.append((name, value if eq else None))
    return tuple(out)


_QUOTED_VALUE = r'"[^"\\]*"'
_PARAM = rf"{_TOK}+(?:=(?:{_TOKV}+|{_QUOTED_VALUE}))?"
_QUOTED_PARAMS = re.compile(rf"(?:;{_PARAM})*")
_ONE_PARAM = re.compile(rf";({_TOK}+)(?:=({_TOKV}+|{_QUOTED_VALUE}))?")


def parse_params(scanner: Scanner) -> Params:
    """``*( SEMI generic-param )``: names are tokens, values tokens, hosts or quoted."""
    rest = scanner.text[scanner.pos :]
    if _SIMPLE_PARAMS.fullmatch(rest):
        scanner.pos = len(scanner.text)
        return _simple_params(rest)
    if _QUOTED_PARAMS.fullmatch(rest):  # quoted values without escapes, no spaces
        scanner.pos = len(scanner.text)
        return tuple((m.group(1), m.group(2)) for m in _ONE_PARAM.finditer(rest))
    return _parse_params_scanned(scanner)


def _parse_params_scanned(scanner: Scanner) -> Params:
    params: list[tuple[str, str | None]] = []
    while scanner.accept(";"):
        name = scanner.token("parameter name")
        if scanner.accept("="):
            if scanner.peek() == '"':
                value: str | None = scanner.quoted_string()
            else:
                value = scanner.take(TOKEN | frozenset(":[]"), f"value of parameter {name!r}")
        else:
            value = None
        params.append((name, value))
    scanner.skip_ws()
    if not scanner.at_end():
        raise scanner.fail("unexpected character")
    return tuple(params)


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class Via:
    transport: Final[str]
    host: Final[str]
    port: Final[int | None]
    params: Final[Params]

    def __init__(
        self, *, transport: str, host: str, port: int | None = None, params: Params = ()
    ) -> None:
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        hostport = host if self.port is None else f"{host}:{self.port}"
        return f"SIP/2.0/{self.transport} {hostport}{format_params(self.params)}"

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)[1]

    def has_param(self, name: str) -> bool:
        return find_param(self.params, name)[0]

    @property
    def branch(self) -> str | None:
        return self.param("branch")

    def with_param(self, name: str, value: str | None = None) -> Via:
        return Via(
            transport=self.transport,
            host=self.host,
            port=self.port,
            params=set_param(self.params, name, value),
        )


VIA_CACHE: Final[TextCache[Via]] = TextCache(2048, 256)
NAME_ADDR_CACHE: Final[TextCache[NameAddr]] = TextCache(8192, 256)
CSEQ_CACHE: Final[TextCache[CSeq]] = TextCache(1024, 32)


def parse_via(value: str) -> Via:
    """Parse one Via value (cached, bounded: values are strings, results are frozen)."""
    via = VIA_CACHE.get(value)
    if via is not None:
        return via
    return VIA_CACHE.put(value, _parse_via(value))


def _parse_via(value: str) -> Via:
    fast = _SIMPLE_VIA.fullmatch(value)
    if fast is not None and _SIMPLE_PARAMS.fullmatch(fast.group(4)):
        port = fast.group(3)
        if port is None or int(port) <= 65535:
            return Via(
                transport=fast.group(1).upper(),
                host=fast.group(2),
                port=int(port) if port else None,
                params=_simple_params(fast.group(4)),
            )
    return _parse_via_scanned(value)


def _parse_via_scanned(value: str) -> Via:
    s = Scanner(value, "Via")
    s.skip_ws()
    protocol = s.token("protocol name")
    s.expect("/")
    version = s.token("protocol version")
    s.expect("/")
    transport = s.token("transport")
    if protocol.upper() != "SIP" or version != "2.0":
        raise ParseError(f"unsupported protocol {protocol}/{version}", "Via", status=505)
    if not s.skip_ws():
        raise s.fail("expected white space before sent-by")
    start = s.pos
    if s.peek() == "[":
        end = value.find("]", s.pos)
        if end < 0:
            raise s.fail("unterminated IPv6 reference")
        s.pos = end + 1
    else:
        s.take(TOKEN, "host")
    save = s.pos
    if s.accept(":"):
        s.take(frozenset("0123456789"), "port")
    else:
        s.pos = save
    host, port = parse_host(value[start : s.pos].replace(" ", "").replace("\t", ""), "Via")
    params = parse_params(s)
    return Via(transport=transport.upper(), host=host, port=port, params=params)


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class NameAddr:
    """A From, To, Contact, Route or Record-Route value. ``display`` is unquoted."""

    uri: Final[URI]
    display: Final[str | None]
    params: Final[Params]
    wildcard: Final[bool]

    def __init__(
        self,
        *,
        uri: URI,
        display: str | None = None,
        params: Params = (),
        wildcard: bool = False,
    ) -> None:
        self.uri = uri
        self.display = display
        self.params = params
        self.wildcard = wildcard

    def __str__(self) -> str:
        if self.wildcard:
            return "*" + format_params(self.params)
        display = f"{quote(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)[1]

    def has_param(self, name: str) -> bool:
        return find_param(self.params, name)[0]

    @property
    def tag(self) -> str | None:
        return self.param("tag")

    def with_param(self, name: str, value: str | None = None) -> NameAddr:
        return dataclasses.replace(self, params=set_param(self.params, name, value))


_SIMPLE_NAME_ADDR = re.compile(r"<([^<>\s\"]+)>((?:;.*)?)")


# The plain forms a registrar or proxy writes (``<sip:user@host:port;p>;tag=x``, a Via
# without spaces or quotes): a value that matches is well-formed (a subset of what the
# parsers accept, property-tested), so a message can be checked without building the typed
# values it may never need; anything else is parsed in full to be accepted or rejected.
_PLAIN_PORT = r"(?:[1-5][0-9]{4}|[0-9]{1,4})"
_PLAIN_HOST = r"[A-Za-z0-9\-_][A-Za-z0-9\-._]*+"
_PLAIN_URI_PARAM = r"[A-Za-z0-9\-_.!~*'()\[\]/:&+$]++"
# (possessive repeats, ``*+`` and ``++``, where what follows a repeat is never a character
# it takes: the same values match, without the engine keeping places to backtrack to)
_PLAIN_NAME_ADDR = re.compile(
    rf"<sips?:(?:[A-Za-z0-9\-_.!~*'()&=+$,/]++@)?{_PLAIN_HOST}(?::{_PLAIN_PORT})?"
    rf"(?:;{_PLAIN_URI_PARAM}(?:={_PLAIN_URI_PARAM})?)*+>"
    rf'(?:;{_TOK}++(?:=(?:{_TOKV}++|"[\x20\x21\x23-\x5b\x5d-\x7e]*+"))?)*+'
)
_PLAIN_VIA = re.compile(
    rf"SIP/2\.0/{_TOK}++ {_PLAIN_HOST}(?::{_PLAIN_PORT})?"
    rf"(?:;{_TOK}++(?:={_TOKV}++)?)*+"
)


def check_name_addr(value: str, where: str) -> None:
    """Raise ParseError unless ``value`` is a well-formed name-addr."""
    if _PLAIN_NAME_ADDR.fullmatch(value) is None:
        parse_name_addr(value, where)


def check_via(value: str) -> None:
    """Raise ParseError unless ``value`` is a well-formed Via value."""
    if _PLAIN_VIA.fullmatch(value) is None:
        parse_via(value)


def checked_param_of(value: str, uri: str, name: str) -> tuple[str | None] | None:
    """The parameter ``name`` of a name-addr ``<uri;uri-params>;params`` that was checked
    well-formed (the parser checks every From, To and Contact it passes on) and whose URI
    is written exactly ``uri`` before its parameters: ``(value,)`` (``(None,)`` when absent
    or valueless), read off the text as far as its first quoted string. None when the URI
    is written otherwise or the parameter may lie past a quote: parse it in full."""
    end = len(uri) + 1
    if (
        len(value) <= end
        or value[0] != "<"
        or not value.startswith(uri, 1)
        or value[end] not in ";>"
    ):
        return None
    close = value.find(">", end)  # a URI has no ">" in it: this one ends it
    if close < 0:
        return None
    lname = name.lower()
    for item in value[close + 1 :].split(";")[1:]:
        if '"' in item:  # a quoted string may hold a ";": the rest is not split here
            return None
        key, eq, param = item.partition("=")
        if key.strip(" \t").lower() == lname:
            return (param.strip(" \t") if eq else None,)
    return (None,)


def parse_name_addr(value: str, where: str) -> NameAddr:
    """Parse one name-addr value (cached, bounded: values are strings, results are frozen).
    What a value parses to does not depend on ``where`` but for a Contact's ``*``, which
    is never kept."""
    cached = NAME_ADDR_CACHE.get(value)
    if cached is not None:
        return cached
    parsed = _parse_name_addr(value, where)
    return parsed if parsed.wildcard else NAME_ADDR_CACHE.put(value, parsed)


def _parse_name_addr(value: str, where: str) -> NameAddr:
    simple = _SIMPLE_NAME_ADDR.fullmatch(value)
    if simple is not None:
        # ``<uri>;params`` without a display name: the URI and plain parameters directly
        params_text = simple.group(2)
        if _SIMPLE_PARAMS.fullmatch(params_text):
            params = _simple_params(params_text)
        else:
            s = Scanner(value, where)
            s.pos = simple.start(2)
            params = parse_params(s)
        uri = parse_uri(simple.group(1), where)
        return NameAddr(uri=uri, params=params)
    return _parse_name_addr_scanned(value, where)


def _parse_name_addr_scanned(value: str, where: str) -> NameAddr:
    s = Scanner(value, where)
    s.skip_ws()
    if s.peek() == "*" and where == "Contact":
        s.pos += 1
        return NameAddr(uri=SipURI(host="*"), wildcard=True, params=parse_params(s))
    display: str | None = None
    if s.peek() == '"':
        display = unquote(s.quoted_string())
        s.skip_ws()
        if s.peek() != "<":
            raise s.fail("expected '<' after display name")
    elif "<" in value:
        head = value[s.pos : value.index("<")].strip()
        words = head.split()
        for word in words:
            if not is_token(word):
                raise ParseError(f"display name {head!r} is neither token nor quoted", where)
        display = " ".join(words) or None
        s.pos = value.index("<")
    if s.peek() == "<":
        end = value.find(">", s.pos)
        if end < 0:
            raise s.fail("unterminated '<'")
        inner = value[s.pos + 1 : end]
        if inner != inner.strip():
            raise ParseError(f"white space inside <> in {value!r}", where)
        uri = parse_uri(inner, where)
        s.pos = end + 1
    else:
        start = s.pos
        while not s.at_end() and s.peek() not in " \t;":
            s.pos += 1
        text = value[start : s.pos]
        if any(c in text for c in ",?"):
            raise ParseError(f"a URI with ',' or '?' must be enclosed in <>: {text!r}", where)
        uri = parse_uri(text, where)
    return NameAddr(uri=uri, display=display, params=parse_params(s))


@dataclass(slots=True, unsafe_hash=True)
class CSeq:
    seq: Final[int]
    method: Final[str]

    def __init__(self, seq: int, method: str) -> None:
        self.seq = seq
        self.method = method

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(value: str) -> CSeq:
    cseq = CSEQ_CACHE.get(value)
    if cseq is not None:
        return cseq
    return CSEQ_CACHE.put(value, _parse_cseq(value))


def _parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or not parts[0].isascii():
        raise ParseError(f"expected 'number METHOD', got {value!r}", "CSeq")
    seq = int(parts[0])
    if seq >= 2**31:
        raise ParseError(f"sequence number {seq} is not below 2**31", "CSeq")
    if not is_token(parts[1]):
        raise ParseError(f"bad method {parts[1]!r}", "CSeq")
    return CSeq(seq, parts[1])


def clear_parse_caches() -> None:
    """Forget every parsed value the caches hold (for a caller that knows none of them
    will come again: a simulated storm's next shard, whose users are all new)."""
    URI_CACHE.clear()
    VIA_CACHE.clear()
    NAME_ADDR_CACHE.clear()
    CSEQ_CACHE.clear()
