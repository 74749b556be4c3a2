"""Cutting a stream transport's bytes into messages (RFC 3261 18.3, RFC 5626 keep-alives)."""

from __future__ import annotations

import enum

from endpoint.sip.errors import ParseError


class KeepAlive(enum.Enum):
    PING = b"\r\n\r\n"  # RFC 5626 3.5.1: a client's double CRLF
    PONG = b"\r\n"  # the server's single CRLF answer


Frame = bytes | KeepAlive


class StreamFramer:
    """Feed it bytes as they arrive; it returns whole messages (and keep-alives).

    A message without Content-Length, or whose header block grows past ``max_head``
    bytes, raises :class:`ParseError`: the stream can no longer be framed and the
    connection should be closed.
    """

    def __init__(self, *, max_head: int = 65536, max_body: int = 4 * 1024 * 1024) -> None:
        self._buf = bytearray()
        self.max_head = max_head
        self.max_body = max_body

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        # at a message's start, most chunks are that message whole: hand it on as is
        whole = not self._buf and data[:1] not in (b"\r", b"\n", b"")
        if whole and _message_end(data, self.max_head, self.max_body) == len(data):
            return [data]
        self._buf += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    def _next(self) -> Frame | None:
        buf = self._buf
        if buf[:1] == b"\r" or buf[:1] == b"\n":
            if buf[:4] == KeepAlive.PING.value:
                del buf[:4]
                return KeepAlive.PING
            if buf[:2] == KeepAlive.PONG.value and buf[2:3] != b"\r":
                del buf[:2]
                return KeepAlive.PONG
            if buf[:1] == b"\n" or (len(buf) >= 2 and buf[:2] != b"\r\n"):
                del buf[:1]  # a stray line end between messages
                return self._next()
            return None  # "\r", "\r\n\r": wait for the rest of a keep-alive
        end = _message_end(buf, self.max_head, self.max_body)
        if end is None or len(buf) < end:
            return None
        message = bytes(buf[:end])
        del buf[:end]
        return message


def _message_end(buf: bytes | bytearray, max_head: int, max_body: int) -> int | None:
    """Where the message that ``buf`` starts with ends (it may not all be there yet), or
    None while its header block is incomplete. The header block ends at the first blank
    line (CRLF or bare LF); its first ``Content-Length`` (or ``l``) header says how much
    body follows."""
    found = _blank_line(buf)
    if found is None:
        if len(buf) > max_head:
            raise ParseError(f"header block longer than {max_head} bytes", "stream")
        return None
    head_end, body_start = found
    text = _content_length(buf[:head_end])
    if text is None:
        raise ParseError("missing on a stream transport", "Content-Length")
    text = text.strip()
    if not text.isdigit():
        raise ParseError(f"expected a number, got {text!r}", "Content-Length")
    length = int(text)
    if length > max_body:
        raise ParseError(f"body of {length} bytes is over {max_body}", "Content-Length")
    return body_start + length


def _blank_line(buf: bytes | bytearray) -> tuple[int, int] | None:
    """(start, end) of the first ``\r?\n\r?\n`` in ``buf``."""
    a, b = buf.find(b"\n\n"), buf.find(b"\n\r\n")
    if a < 0 and b < 0:
        return None
    if b < 0 or 0 <= a < b:
        at, end = a, a + 2
    else:
        at, end = b, b + 3
    return (at - 1 if at > 0 and buf[at - 1] == 13 else at), end


def _content_length(head: bytes | bytearray) -> bytes | None:
    """The value of the first line of ``head`` that reads ``Content-Length`` or ``l`` (any
    case), blanks, a colon: what follows the colon's blanks up to the line's end."""
    low = b"\n" + bytes(head).lower()  # a line start before the first line, too
    pos = 0
    while True:
        full, compact = low.find(b"\ncontent-length", pos), low.find(b"\nl", pos)
        if full < 0 and compact < 0:
            return None
        if compact < 0 or 0 <= full < compact:
            at, name = full, 15
        else:
            at, name = compact, 2
        i = at + name
        while low[i : i + 1] in (b" ", b"\t"):
            i += 1
        if low[i : i + 1] == b":":
            i += 1
            while low[i : i + 1] in (b" ", b"\t"):
                i += 1
            end = i
            while end < len(low) and low[end] not in (10, 13):
                end += 1
            return bytes(head[i - 1 : end - 1])
        pos = at + 1
