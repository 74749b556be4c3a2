"""A drill's SIP as the fault proxy saw it, as a libpcap file (``<drill>.pcap``) that
``tcpdump -r`` and Wireshark read: each unit an IPv4 packet with its real loopback
addresses and ports (UDP, or TCP segments numbered per direction), at the wall-clock time
it crossed. Written in the plain libpcap format (LINKTYPE_RAW): a few dozen lines, no
dependency."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from pathlib import Path

from lab.faults.watch import WireObservation

LINKTYPE_RAW = 101  # the packet is an IP header and what follows
SNAPLEN = 65535


def _checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def _ip(src: str, dst: str, proto: int, payload: bytes, ident: int) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0,
        bytes(int(x) for x in src.split(".")), bytes(int(x) for x in dst.split(".")),
    )  # fmt: skip
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + payload


def packets(observations: Iterable[WireObservation]) -> list[tuple[float, bytes]]:
    """(monotonic time, IPv4 packet) for each observation, in order."""
    out: list[tuple[float, bytes]] = []
    seq: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
    for n, o in enumerate(observations):
        src, dst = (o.client, o.listen) if o.direction == "out" else (o.listen, o.client)
        if o.protocol == "udp":
            segment = struct.pack("!HHHH", src[1], dst[1], 8 + len(o.data), 0) + o.data
            proto = 17
        else:
            mine = seq.get((src, dst), 1)
            theirs = seq.get((dst, src), 1)
            seq[(src, dst)] = mine + len(o.data)
            segment = struct.pack("!HHIIBBHHH", src[1], dst[1], mine, theirs, 5 << 4, 0x18,
                                  65535, 0, 0) + o.data  # fmt: skip
            proto = 6
        out.append((o.t, _ip(src[0], dst[0], proto, segment, n)))
    return out


def write_pcap(path: Path, observations: Iterable[WireObservation]) -> int:
    """Write the file; returns how many packets it holds."""
    offset = time.time() - time.monotonic()  # the proxy stamped with the monotonic clock
    records = [struct.pack("!IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_RAW)]
    found = packets(observations)
    for t, packet in found:
        wall = t + offset
        sec, usec = int(wall), int((wall - int(wall)) * 1e6)
        data = packet[:SNAPLEN]
        records.append(struct.pack("!IIII", sec, usec, len(data), len(packet)) + data)
    path.write_bytes(b"".join(records))
    return len(found)
