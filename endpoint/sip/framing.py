"""Cutting a stream transport's bytes into messages (RFC 3261 18.3, RFC 5626 keep-alives)."""

from __future__ import annotations

import enum
import re

from endpoint.sip.errors import ParseError

_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)")


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
        match = _END.search(buf)
        if match is None:
            if len(buf) > self.max_head:
                raise ParseError(f"header block longer than {self.max_head} bytes", "stream")
            return None
        head = bytes(buf[: match.start()])
        cl = _CONTENT_LENGTH.search(head)
        if cl is None:
            raise ParseError("missing on a stream transport", "Content-Length")
        text = cl.group(1).strip()
        if not text.isdigit():
            raise ParseError(f"expected a number, got {text!r}", "Content-Length")
        length = int(text)
        if length > self.max_body:
            raise ParseError(f"body of {length} bytes is over {self.max_body}", "Content-Length")
        end = match.end() + length
        if len(buf) < end:
            return None
        message = bytes(buf[:end])
        del buf[:end]
        return message
