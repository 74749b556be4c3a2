from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip import ParseError, parse_message
from endpoint.sip.framing import KeepAlive, StreamFramer, _blank_line, _content_length

WSINV = (Path(__file__).parent / "rfc4475/valid/wsinv.sip").read_bytes()


@pytest.mark.parametrize("chunk", [1, 2, 7, 100, 10_000])
def test_messages_split_anywhere_come_out_whole(chunk: int) -> None:
    data = WSINV + WSINV
    framer = StreamFramer()
    frames = []
    for i in range(0, len(data), chunk):
        frames += framer.feed(data[i : i + chunk])
    assert frames == [WSINV, WSINV]
    assert framer.buffered == 0


def test_keepalives_between_messages() -> None:
    framer = StreamFramer()
    frames = framer.feed(KeepAlive.PING.value + WSINV[:50])
    frames += framer.feed(WSINV[50:] + KeepAlive.PONG.value)
    frames += framer.feed(KeepAlive.PING.value)
    assert frames == [KeepAlive.PING, WSINV, KeepAlive.PONG, KeepAlive.PING]
    assert parse_message(WSINV, stream=True).body == parse_message(WSINV).body


def test_body_waits_for_all_its_bytes() -> None:
    framer = StreamFramer()
    assert framer.feed(WSINV[:-1]) == []
    assert framer.feed(WSINV[-1:]) == [WSINV]


def test_missing_content_length_cannot_be_framed() -> None:
    with pytest.raises(ParseError, match="Content-Length"):
        StreamFramer().feed(b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h\r\n\r\n")


def test_endless_header_block_is_refused() -> None:
    framer = StreamFramer(max_head=1000)
    with pytest.raises(ParseError, match="longer than 1000"):
        framer.feed(b"OPTIONS sip:a SIP/2.0\r\n" + b"X-A: b\r\n" * 200)


# the framer's scanning, held to the regular expressions it was written from
_REFERENCE_END = re.compile(rb"\r?\n\r?\n")
_REFERENCE_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)")
_pieces = st.sampled_from(
    [b"\r", b"\n", b"\r\n", b" ", b"\t", b":", b"l", b"L", b"content-length", b"Content-Length",
     b"CONTENT-LENGTH", b"x", b"5", b"12", b"lx", b"Via: SIP/2.0/TCP h", b"OPTIONS sip:a SIP/2.0"]
)  # fmt: skip


@settings(max_examples=3000)
@given(st.lists(_pieces, max_size=30).map(b"".join))
def test_blank_line_and_content_length_as_the_regular_expressions_find_them(data: bytes) -> None:
    blank = _REFERENCE_END.search(data)
    assert _blank_line(data) == (None if blank is None else (blank.start(), blank.end()))
    assert _blank_line(bytearray(data)) == _blank_line(data)
    length = _REFERENCE_LENGTH.search(data)
    assert _content_length(data) == (None if length is None else length.group(1))


@pytest.mark.parametrize("cut", [None, 30, -1])
def test_a_whole_message_in_one_chunk_is_handed_on_as_is(cut: int | None) -> None:
    framer = StreamFramer()
    if cut is None:
        (frame,) = framer.feed(WSINV)
        assert frame is WSINV  # not copied
    else:
        assert framer.feed(WSINV[:cut]) == []
        assert framer.feed(WSINV[cut:]) == [WSINV]
    assert framer.buffered == 0
