"""Minimal SDP (RFC 4566) offer/answer (RFC 3264): one audio stream and its direction.

Direction is what hold is made of: a held call's offer says ``sendonly`` (RFC 3264 8.4)
and the answer ``recvonly``; ``inactive`` when both sides hold.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from endpoint.sip.errors import ParseError

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}
CODECS = {0: "PCMU/8000", 8: "PCMA/8000", 101: "telephone-event/8000"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Sdp:
    address: str
    port: int
    payloads: tuple[int, ...] = (0, 8, 101)
    direction: str = "sendrecv"
    session_id: int = 1
    version: int = 1
    user: str = "-"

    def serialise(self) -> bytes:
        family = "IP6" if ":" in self.address else "IP4"
        lines = [
            "v=0",
            f"o={self.user} {self.session_id} {self.version} IN {family} {self.address}",
            "s=-",
            f"c=IN {family} {self.address}",
            "t=0 0",
            f"m=audio {self.port} RTP/AVP {' '.join(map(str, self.payloads))}",
        ]
        lines += [f"a=rtpmap:{pt} {CODECS[pt]}" for pt in self.payloads if pt in CODECS]
        lines.append(f"a={self.direction}")
        return ("\r\n".join(lines) + "\r\n").encode()

    def with_direction(self, direction: str) -> Sdp:
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        return dataclasses.replace(self, direction=direction, version=self.version + 1)

    def answer(self, *, address: str, port: int, session_id: int = 1, hold: bool = False) -> Sdp:
        """Our answer to this offer; ``hold`` makes us send nothing."""
        direction = _ANSWER[self.direction]
        if hold:
            direction = {"sendrecv": "sendonly", "recvonly": "sendonly"}.get(direction, "inactive")
        common = tuple(pt for pt in self.payloads if pt in CODECS) or self.payloads[:1]
        return Sdp(
            address=address, port=port, payloads=common, direction=direction, session_id=session_id
        )


def parse_sdp(data: bytes) -> Sdp:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ParseError("SDP is not UTF-8", "SDP") from None
    address = port = None
    payloads: tuple[int, ...] = ()
    session_dir = media_dir = None
    session_id = version = 0
    user = "-"
    in_media = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise ParseError(f"bad line {line!r}", "SDP")
        kind, value = line[0], line[2:]
        try:
            if kind == "o":
                fields = value.split()
                user, session_id, version = fields[0], int(fields[1]), int(fields[2])
                address = address or fields[5]
            elif kind == "c":
                address = value.split()[2]
            elif kind == "m" and not in_media:
                fields = value.split()
                if fields[0] != "audio":
                    continue
                in_media = True
                port = int(fields[1])
                payloads = tuple(int(f) for f in fields[3:])
            elif kind == "m":
                break
            elif kind == "a" and value in DIRECTIONS:
                if in_media:
                    media_dir = value
                else:
                    session_dir = value
        except (IndexError, ValueError):
            raise ParseError(f"bad line {line!r}", "SDP") from None
    if address is None or port is None:
        raise ParseError("no connection address or audio stream", "SDP")
    return Sdp(
        address=address,
        port=port,
        payloads=payloads,
        direction=media_dir or session_dir or "sendrecv",
        session_id=session_id,
        version=version,
        user=user,
    )
