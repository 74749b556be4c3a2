"""Header names and the header list of a message (typed views of structured headers:
:mod:`endpoint.sip.values`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import overload

from endpoint.sip.grammar import split_top_level

_CANONICAL = [
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "MIME-Version",
    "Organization",
    "Path",
    "Priority",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "Server",
    "Session-Expires",
    "Subject",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "Identity",
]
CANONICAL_NAMES = {name.lower(): name for name in _CANONICAL}
COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
# Headers whose values are comma-separated lists (RFC 3261 7.3.1): split on parse.
LIST_HEADERS = frozenset(
    {
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Call-Info",
        "Contact",
        "Content-Encoding",
        "Content-Language",
        "Error-Info",
        "In-Reply-To",
        "Path",
        "Proxy-Require",
        "Record-Route",
        "Require",
        "Route",
        "Supported",
        "Unsupported",
        "Via",
        "Warning",
    }
)
SINGLE_HEADERS = ("Call-ID", "CSeq", "From", "To", "Max-Forwards", "Content-Length", "Content-Type")


_CANON_CACHE: dict[str, tuple[str, str]] = {}  # name as given -> (key, canonical name)


def _names(name: str) -> tuple[str, str]:
    """(lower-case key, canonical name) of a header name, cached."""
    cached = _CANON_CACHE.get(name)
    if cached is not None:
        return cached
    lname = name.lower()
    canonical = COMPACT_FORMS.get(lname) or CANONICAL_NAMES.get(lname, name)
    result = (canonical.lower(), canonical)
    if len(_CANON_CACHE) < 4096 and len(name) <= 64:  # (a peer's names, bounded in size)
        _CANON_CACHE[name] = result
    return result


def canonical_name(name: str) -> str:
    """``v`` → ``Via``, ``cSeQ`` → ``CSeq``; an unknown name is kept as written."""
    return _names(name)[1]


def _key(name: str) -> str:
    return _names(name)[0]


class Headers:
    """Ordered header fields, one entry per value; names compare case-insensitively.

    Each entry is kept as (lower-case key, name as it will be written, value).
    """

    __slots__ = ("_items",)
    __hash__ = None  # type: ignore[assignment]  # mutable

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str, str]] = (
            [(*_names(name), value) for name, value in items] if items else []
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((name, value) for _, name, value in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for k, _, v in self._items] == [(k, v) for k, _, v in other._items]

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def entries(self) -> list[tuple[str, str, str]]:
        """The (key, name, value) entries, in order (not a copy: do not change it)."""
        return self._items

    @staticmethod
    def of_entries(entries: list[tuple[str, str, str]]) -> Headers:
        """From ready (key, canonical name, value) entries (the parser's)."""
        new = Headers()
        new._items = entries
        return new

    def copy(self) -> Headers:
        return Headers.of_entries(list(self._items))

    def index(self) -> dict[str, list[str]]:
        """Every value by lower-case canonical name, in one pass."""
        found: dict[str, list[str]] = {}
        for key, _, value in self._items:
            found.setdefault(key, []).append(value)
        return found

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        key = (_CANON_CACHE.get(name) or _names(name))[0]
        for k, _, v in self._items:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = (_CANON_CACHE.get(name) or _names(name))[0]
        return [v for k, _, v in self._items if k == key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: str) -> None:
        key, cname = _CANON_CACHE.get(name) or _names(name)
        self._items.append((key, cname, value))

    def prepend(self, name: str, value: str) -> None:
        self._items.insert(0, (*_names(name), value))

    def remove(self, name: str) -> None:
        key = _key(name)
        self._items = [item for item in self._items if item[0] != key]

    def remove_first(self, name: str) -> None:
        key = _key(name)
        for i, item in enumerate(self._items):
            if item[0] == key:
                del self._items[i]
                return

    def replace_first(self, name: str, value: str) -> None:
        """Change the first value of ``name`` in place (add it if absent)."""
        key = _key(name)
        for i, (k, n, _) in enumerate(self._items):
            if k == key:
                self._items[i] = (k, n, value)
                return
        self.add(name, value)

    def set(self, name: str, value: str) -> None:
        """Replace every value of ``name`` by one, kept at the first one's place."""
        key, cname = _names(name)
        kept: list[tuple[str, str, str]] = []
        placed = False
        for item in self._items:
            if item[0] != key:
                kept.append(item)
            elif not placed:
                kept.append((key, cname, value))
                placed = True
        if not placed:
            kept.append((key, cname, value))
        self._items = kept


def split_values(name: str, value: str) -> list[str]:
    """The values one header line carries (several for list headers)."""
    if "," not in value or canonical_name(name) not in LIST_HEADERS or value.strip() == "*":
        return [value]
    return [part.strip() for part in split_top_level(value)]
