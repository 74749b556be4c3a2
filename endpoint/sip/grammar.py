"""Character classes of RFC 3261 section 25 and a small scanner over header values."""

from __future__ import annotations

import re
import string

from endpoint.sip.errors import ParseError

ALPHANUM = frozenset(string.ascii_letters + string.digits)
TOKEN = ALPHANUM | frozenset("-.!%*_+`'~")
MARK = frozenset("-_.!~*'()")
UNRESERVED = ALPHANUM | MARK
USER_UNRESERVED = frozenset("&=+$,;?/")
PASSWORD_EXTRA = frozenset("&=+$,")
PARAM_UNRESERVED = frozenset("[]/:&+$")
HNV_UNRESERVED = frozenset("[]/?:+$")
HEXDIG = frozenset(string.hexdigits)
WORD = TOKEN | frozenset('()<>:\\"/[]?{}')
WS = " \t"


_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


_ESCAPED: dict[frozenset[str], re.Pattern[str]] = {}


def check_escaped(text: str, allowed: frozenset[str], where: str) -> None:
    """Check ``text`` is made of ``allowed`` characters and well-formed ``%HH`` escapes."""
    pattern = _ESCAPED.get(allowed)
    if pattern is None:
        chars = "".join(sorted(re.escape(c) for c in allowed if c != "%"))
        pattern = _ESCAPED[allowed] = re.compile(f"(?:[{chars}]|%[0-9A-Fa-f]{{2}})*")
    if pattern.fullmatch(text) is not None:
        return
    # not well-formed: walk it to say where
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "%":
            if i + 2 >= n:
                raise ParseError(f"truncated escape in {text!r}", where)
            if text[i + 1] not in HEXDIG or text[i + 2] not in HEXDIG:
                raise ParseError(f"bad escape {text[i : i + 3]!r}", where)
            i += 3
            continue
        if c not in allowed:
            raise ParseError(f"character {c!r} not allowed in {text!r}", where)
        i += 1


class Scanner:
    """A cursor over one header value; every failure is a :class:`ParseError`."""

    __slots__ = ("pos", "text", "where")

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.pos = 0
        self.where = where

    def fail(self, what: str) -> ParseError:
        return ParseError(f"{what} at column {self.pos + 1} of {self.text!r}", self.where)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ws(self) -> bool:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in WS:
            self.pos += 1
        return self.pos > start

    def accept(self, char: str) -> bool:
        """Consume ``char`` (with white space around it) if it comes next."""
        save = self.pos
        self.skip_ws()
        if self.peek() == char:
            self.pos += 1
            self.skip_ws()
            return True
        self.pos = save
        return False

    def expect(self, char: str) -> None:
        if not self.accept(char):
            raise self.fail(f"expected {char!r}")

    def take(self, allowed: frozenset[str], what: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in allowed:
            self.pos += 1
        if self.pos == start:
            raise self.fail(f"expected {what}")
        return self.text[start : self.pos]

    def token(self, what: str = "token") -> str:
        return self.take(TOKEN, what)

    def quoted_string(self) -> str:
        """Return the quoted string at the cursor, quotes and escapes kept as written."""
        if self.peek() != '"':
            raise self.fail("expected '\"'")
        start = self.pos
        self.pos += 1
        n = len(self.text)
        while self.pos < n:
            c = self.text[self.pos]
            if c == "\\":
                if self.pos + 1 >= n:
                    break
                self.pos += 2
                continue
            self.pos += 1
            if c == '"':
                return self.text[start : self.pos]
        raise ParseError(f"unterminated quoted string in {self.text!r}", self.where)

    def rest(self) -> str:
        value = self.text[self.pos :]
        self.pos = len(self.text)
        return value


def unquote(value: str) -> str:
    """``"a \\"b\\""`` → ``a "b"``; a value without quotes is returned as is."""
    if len(value) < 2 or value[0] != '"' or value[-1] != '"':
        return value
    out = []
    i = 1
    while i < len(value) - 1:
        c = value[i]
        if c == "\\" and i + 1 < len(value) - 1:
            out.append(value[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def split_top_level(value: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quoted strings and angle brackets."""
    if sep not in value:
        return [value]
    parts: list[str] = []
    depth = 0
    in_quote = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if in_quote:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == sep and depth == 0:
            parts.append(value[start:i])
            start = i + 1
        i += 1
    parts.append(value[start:])
    return parts
