"""SIP over WebSocket's sans-I/O core: the handshake (sip subprotocol only), masked client
frames, fragments, Ping/Pong, close, a peer that breaks the protocol, and the passive
reader that the fault proxy records with: frames passed on as they came, the SIP read
out of them, however the bytes are cut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from endpoint.sip.errors import ParseError
from endpoint.sip.websocket import WsLink, WsReader

REGISTER = (
    b"REGISTER sip:a.geolab.test SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK1\r\n"
    b"Call-ID: 1\r\nCSeq: 1 REGISTER\r\n\r\n"
)


def opened() -> tuple[WsLink, WsLink]:
    client, server = WsLink(client=True, host="127.0.0.1:5062"), WsLink(client=False)
    answer = server.receive(client.opening())
    assert answer.opened and b"101 Switching Protocols" in answer.reply
    assert b"Sec-WebSocket-Protocol: sip" in answer.reply
    assert client.receive(answer.reply).opened
    return client, server


def test_messages_cross_both_ways_and_the_client_masks_its_frames() -> None:
    client, server = opened()
    frame = client.send(REGISTER)
    assert frame[1] & 0x80 and REGISTER not in frame  # masked: the text is not readable
    assert server.receive(frame).messages == [REGISTER]
    reply = server.send(b"SIP/2.0 200 OK\r\n\r\n")
    assert reply[1] & 0x80 == 0 and b"200 OK" in reply
    assert client.receive(reply).messages == [b"SIP/2.0 200 OK\r\n\r\n"]


def test_messages_sent_during_the_handshake_go_once_it_is_done() -> None:
    client, server = WsLink(client=True), WsLink(client=False)
    request = client.opening()
    assert client.send(REGISTER) == b""  # kept
    answer = server.receive(request)
    flushed = client.receive(answer.reply).reply
    assert server.receive(flushed).messages == [REGISTER]


def test_a_server_refuses_an_upgrade_that_does_not_ask_for_sip() -> None:
    server = WsLink(client=False)
    request = (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
    got = server.receive(request)
    assert got.closed and not got.opened and b"400" in got.reply.split(b"\r\n")[0]


def test_a_refused_upgrade_is_said_to_the_client() -> None:
    client = WsLink(client=True)
    client.opening()
    got = client.receive(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert got.closed and "404" in got.why


def test_a_long_message_in_fragments_is_one_message() -> None:
    client, server = opened()
    body = b"v=0\r\n" * 20000
    message = REGISTER[:-2] + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    frame = client.send(message)
    parts = [server.receive(frame[i : i + 1000]).messages for i in range(0, len(frame), 1000)]
    assert [m for p in parts for m in p] == [message]


def test_ping_is_answered_and_pong_counted_and_close_is_mutual() -> None:
    client, server = opened()
    answer = server.receive(client.ping())
    assert answer.reply and not answer.messages
    assert client.receive(answer.reply).pongs == 1
    closing = server.receive(client.close())
    assert closing.closed and closing.reply  # the close answered
    assert client.receive(closing.reply).closed


def test_a_peer_that_breaks_the_protocol_is_a_parse_error() -> None:
    _, server = opened()
    with pytest.raises(ParseError):
        server.receive(b"\x81\x05hello")  # a client's frame must be masked


def test_a_message_over_the_limit_is_refused() -> None:
    client, server = opened()
    with pytest.raises(ParseError, match="over"):
        server.receive(client.send(b"x" * ((1 << 20) + 1)))


@settings(max_examples=60, deadline=None)
@given(
    bodies=st.lists(st.binary(min_size=0, max_size=3000), min_size=1, max_size=5),
    cuts=st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=40),
)
def test_the_reader_gives_each_frame_as_it_came_and_the_sip_inside(
    bodies: list[bytes], cuts: list[int]
) -> None:
    client, server = WsLink(client=True), WsLink(client=False)
    request = client.opening()
    answer = server.receive(request).reply
    client.receive(answer)
    messages = [REGISTER + b"X-Body: " + body.hex().encode() + b"\r\n" for body in bodies]
    up_frames = [client.send(m) for m in messages]
    down_frames = [server.send(m) for m in messages]
    for masked, head, frames in ((True, request, up_frames), (False, answer, down_frames)):
        stream = head + b"".join(frames)
        reader = WsReader(masked=masked)
        units: list[tuple[bytes, bytes | None]] = []
        at, i = 0, 0
        while at < len(stream):
            step = cuts[i % len(cuts)]
            units += reader.feed(stream[at : at + step])
            at, i = at + step, i + 1
        assert b"".join(raw for raw, _ in units) == stream  # nothing lost, nothing added
        assert [raw for raw, _ in units] == [head, *frames]
        assert [sip for _, sip in units] == [None, *messages]


def test_the_reader_passes_on_what_is_not_websocket_unread() -> None:
    reader = WsReader(masked=True)
    assert reader.feed(b"GET / HTTP/1.1\r\n\r\n") == [(b"GET / HTTP/1.1\r\n\r\n", None)]
    got = reader.feed(b"\x81\x05hello")  # unmasked where masking is due: not read
    assert got == [(b"\x81\x05hello", None)] and reader.broken
    assert reader.feed(b"more") == [(b"more", None)]
