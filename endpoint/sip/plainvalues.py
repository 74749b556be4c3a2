"""Checks of the plain values a message carries (Call-ID, Date, Content-Type, numbers),
made as the parser reads them, without building anything."""

from __future__ import annotations

import re

from endpoint.sip.errors import ParseError
from endpoint.sip.grammar import WORD, Scanner
from endpoint.sip.values import parse_params


def parse_uint(value: str, where: str, maximum: int) -> int:
    text = value.strip()
    if not text.isdigit() or not text.isascii():
        raise ParseError(f"expected a number, got {value!r}", where)
    number = int(text)
    if number > maximum:
        raise ParseError(f"{number} is above {maximum}", where)
    return number


_WORD_RE = r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]+"
_CALL_ID = re.compile(rf"{_WORD_RE}(?:@{_WORD_RE})?")


def check_call_id(value: str) -> None:
    if _CALL_ID.fullmatch(value) is None:
        _check_call_id_scanned(value)


def _check_call_id_scanned(value: str) -> None:
    word_id, at, host = value.partition("@")
    for part in (word_id, host) if at else (word_id,):
        if not part or any(c not in WORD for c in part):
            raise ParseError(f"bad Call-ID {value!r}", "Call-ID")


_DATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT"
)


def check_date(value: str) -> None:
    if not _DATE.fullmatch(value):
        raise ParseError(f"not an RFC 1123 date in GMT: {value!r}", "Date")


def check_content_type(value: str) -> None:
    s = Scanner(value, "Content-Type")
    s.token("media type")
    s.expect("/")
    s.token("media subtype")
    parse_params(s)
