from __future__ import annotations

import pytest

from endpoint.sip.errors import ParseError
from endpoint.sip.sdp import Sdp, parse_sdp


def test_offer_round_trips() -> None:
    offer = Sdp(address="192.0.2.1", port=4000, session_id=7)
    assert parse_sdp(offer.serialise()) == offer


@pytest.mark.parametrize(
    ("offer", "answer"),
    [
        ("sendrecv", "sendrecv"),
        ("sendonly", "recvonly"),
        ("recvonly", "sendonly"),
        ("inactive", "inactive"),
    ],
)
def test_answer_mirrors_direction(offer: str, answer: str) -> None:
    sdp = Sdp(address="192.0.2.1", port=4000, direction=offer)
    assert sdp.answer(address="192.0.2.2", port=5000).direction == answer


def test_hold_is_sendonly_and_bumps_version() -> None:
    offer = Sdp(address="192.0.2.1", port=4000)
    held = offer.with_direction("sendonly")
    assert held.direction == "sendonly" and held.version == offer.version + 1
    assert b"a=sendonly" in held.serialise()


def test_media_direction_overrides_session_direction() -> None:
    text = b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\na=sendonly\r\nm=audio 9 RTP/AVP 0\r\na=inactive\r\n"
    assert parse_sdp(text).direction == "inactive"


def test_rfc4475_style_body_parses() -> None:
    body = b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
    sdp = parse_sdp(body)
    assert (sdp.address, sdp.port, sdp.payloads) == ("192.0.2.4", 49217, (0, 12))


@pytest.mark.parametrize("body", [b"", b"v=0\r\nm=audio x RTP/AVP 0\r\n", b"garbage", b"\xff\xfe"])
def test_bad_sdp_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError):
        parse_sdp(body)
