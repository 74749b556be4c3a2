from __future__ import annotations

from pathlib import Path

import pytest

from endpoint.sip import ParseError, parse_message
from endpoint.sip.framing import KeepAlive, StreamFramer

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
