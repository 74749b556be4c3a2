"""SIP and SIPS URIs (RFC 3261 section 19.1) and other absolute URIs."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import string
from dataclasses import dataclass
from typing import Final

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import (
    HNV_UNRESERVED,
    PARAM_UNRESERVED,
    PASSWORD_EXTRA,
    UNRESERVED,
    USER_UNRESERVED,
    check_escaped,
)
from endpoint.sip.textcache import TextCache

Params = tuple[tuple[str, str | None], ...]

_SCHEME_FIRST = frozenset(string.ascii_letters)
_SCHEME = frozenset(string.ascii_letters + string.digits + "+-.")
_HOST = frozenset(string.ascii_letters + string.digits + "-._")
# the characters each part may hold unescaped, made once (check_escaped looks its pattern
# up by the set: a set built at every call would be hashed, and compared, every time)
_USER_CHARS: Final = UNRESERVED | USER_UNRESERVED
_PASSWORD_CHARS: Final = UNRESERVED | PASSWORD_EXTRA
_PARAM_CHARS: Final = UNRESERVED | PARAM_UNRESERVED
_HEADER_CHARS: Final = UNRESERVED | HNV_UNRESERVED
_HOST_RE = re.compile(r"[A-Za-z0-9\-._]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_OPAQUE_FORBIDDEN = frozenset(' \t\r\n<>"')


def find_param(params: Params, name: str) -> tuple[bool, str | None]:
    lname = name.lower()
    for key, value in params:
        if key.lower() == lname:
            return True, value
    return False, None


def set_param(params: Params, name: str, value: str | None) -> Params:
    lname = name.lower()
    kept = tuple(p for p in params if p[0].lower() != lname)
    return (*kept, (name, value))


def format_params(params: Params) -> str:
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class SipURI:
    """A ``sip:`` or ``sips:`` URI. Components are kept escaped, as written."""

    scheme: Final[str]
    user: Final[str | None]
    password: Final[str | None]
    host: Final[str]
    port: Final[int | None]
    params: Final[Params]
    headers: Final[tuple[tuple[str, str], ...]]

    def __init__(
        self,
        *,
        scheme: str = "sip",
        user: str | None = None,
        password: str | None = None,
        host: str,
        port: int | None = None,
        params: Params = (),
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params
        self.headers = headers

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.hostport)
        out.append(format_params(self.params))
        if self.headers:
            out.append("?" + "&".join(f"{k}={v}" for k, v in self.headers))
        return "".join(out)

    @property
    def hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    def param(self, name: str) -> str | None:
        return find_param(self.params, name)[1]

    def has_param(self, name: str) -> bool:
        return find_param(self.params, name)[0]

    @property
    def transport(self) -> str:
        value = self.param("transport")
        return value.lower() if value else ("tls" if self.scheme == "sips" else "udp")

    def with_param(self, name: str, value: str | None = None) -> SipURI:
        return dataclasses.replace(self, params=set_param(self.params, name, value))

    def replace(self, **changes: object) -> SipURI:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(slots=True, kw_only=True, unsafe_hash=True)
class AbsoluteURI:
    """A URI of a scheme other than sip/sips (``tel:``, ``isbn:`` …), kept opaque."""

    scheme: Final[str]
    opaque: Final[str]

    def __init__(self, *, scheme: str, opaque: str) -> None:
        self.scheme = scheme
        self.opaque = opaque

    def __str__(self) -> str:
        return f"{self.scheme}:{self.opaque}"


URI = SipURI | AbsoluteURI


def _parse_params(text: str, where: str) -> Params:
    params: list[tuple[str, str | None]] = []
    for item in text.split(";"):
        name, eq, value = item.partition("=")
        if not name:
            raise ParseError(f"empty URI parameter in {text!r}", where)
        check_escaped(name, _PARAM_CHARS, where)
        if eq:
            if not value:
                raise ParseError(f"URI parameter {name!r} has an empty value", where)
            check_escaped(value, _PARAM_CHARS, where)
            params.append((name, value))
        else:
            params.append((name, None))
    return tuple(params)


def _parse_headers(text: str, where: str) -> tuple[tuple[str, str], ...]:
    headers: list[tuple[str, str]] = []
    allowed = _HEADER_CHARS
    for item in text.split("&"):
        name, eq, value = item.partition("=")
        if not name or not eq:
            raise ParseError(f"bad URI header {item!r}", where)
        check_escaped(name, allowed, where)
        if value:
            check_escaped(value, allowed, where)
        headers.append((name, value))
    return tuple(headers)


def parse_host(text: str, where: str) -> tuple[str, int | None]:
    """Parse ``host[:port]``; an IPv6 reference loses its brackets."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ParseError(f"unterminated IPv6 reference in {text!r}", where)
        host = text[1:end]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ParseError(f"bad IPv6 address {host!r}", where) from None
        rest = text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise ParseError(f"junk after IPv6 reference in {text!r}", where)
        port_text = rest[1:] if rest else None
    else:
        host, colon, port_text_ = text.partition(":")
        port_text = port_text_ if colon else None
        if _HOST_RE.fullmatch(host) is None or host.startswith("."):
            raise ParseError(f"bad host {host!r}", where)
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit() or not port_text.isascii() or int(port_text) > 65535:
            raise ParseError(f"bad port {port_text!r}", where)
        port = int(port_text)
    return host, port


URI_CACHE: Final[TextCache[URI]] = TextCache(4096, 256)


def parse_uri(text: str, where: str = "URI", *, allow_headers: bool = True) -> URI:
    """Parse a URI. ``allow_headers=False`` rejects ``?headers`` (the Request-URI rule).
    Cached (bounded: :mod:`endpoint.sip.textcache`): URIs are frozen, and a phone or a
    site sees the same ones over and over; a text with ``?`` where headers are refused is
    parsed afresh, so that it is refused."""
    uri = URI_CACHE.get(text)
    if uri is not None and (allow_headers or "?" not in text):
        return uri
    return URI_CACHE.put(text, _parse_uri(text, where, allow_headers))


def _parse_uri(text: str, where: str, allow_headers: bool) -> URI:
    scheme, colon, rest = text.partition(":")
    if not colon or _SCHEME_RE.fullmatch(scheme) is None:
        raise ParseError(f"no URI scheme in {text!r}", where)
    if scheme.lower() not in ("sip", "sips"):
        if not rest or any(c in _OPAQUE_FORBIDDEN for c in rest):
            raise ParseError(f"bad {scheme} URI {text!r}", where)
        return AbsoluteURI(scheme=scheme, opaque=rest)
    scheme = scheme.lower()
    if rest.count("@") > 1:
        raise ParseError(f"more than one '@' in {text!r}", where)
    user: str | None = None
    password: str | None = None
    if "@" in rest:
        userinfo, _, rest = rest.partition("@")
        user, pcolon, pw = userinfo.partition(":")
        if not user:
            raise ParseError(f"empty user part in {text!r}", where)
        check_escaped(user, _USER_CHARS, where)
        if pcolon:
            check_escaped(pw, _PASSWORD_CHARS, where)
            password = pw
    rest, qmark, header_text = rest.partition("?")
    hostport, semi, param_text = rest.partition(";")
    host, port = parse_host(hostport, where)
    params = _parse_params(param_text, where) if semi else ()
    headers: tuple[tuple[str, str], ...] = ()
    if qmark:
        if not allow_headers:
            raise ParseError(f"headers are not allowed here: {text!r}", where)
        headers = _parse_headers(header_text, where)
    return SipURI(
        scheme=scheme,
        user=user,
        password=password,
        host=host,
        port=port,
        params=params,
        headers=headers,
    )
