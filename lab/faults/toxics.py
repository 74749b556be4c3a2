"""Toxics: what a proxy does to the data that crosses it.

The Toxiproxy types and attributes (latency, bandwidth, slicer, timeout, reset_peer,
limit_data) keep Toxiproxy's meaning; geolab adds ``loss`` for UDP and SIP-aware toxics
that act on chosen messages: ``sip_drop``, ``sip_respond`` and ``sip_delay``, matching on
``method`` (a request's method), ``status`` (a response's code) and ``cseq_method``.

Every unit of data (a datagram, or one SIP message cut from a TCP stream) goes through the
proxy's toxics in order and comes out as an :class:`Outcome`. Randomness (jitter, loss,
toxicity) comes from a per-toxic RNG seeded from the lab's seed, so a run replays.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

from endpoint.sip import ParseError, Request, Response, make_response, parse_message
from lab.errors import ToxicError

TOXIPROXY_TYPES = ("latency", "bandwidth", "slicer", "timeout", "reset_peer", "limit_data")
GEOLAB_TYPES = ("loss", "sip_drop", "sip_respond", "sip_delay", "drop", "duplicate", "reorder",
                "burst_loss", "corrupt")  # fmt: skip
TYPES = TOXIPROXY_TYPES + GEOLAB_TYPES
TCP_ONLY = ("reset_peer", "slicer")
UDP_ONLY = ("loss", "duplicate", "reorder", "burst_loss", "corrupt")  # datagram faults
DEFAULTS: dict[str, dict[str, Any]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "limit_data": {"bytes": 0},
    "loss": {"percent": 0},
    "sip_drop": {},
    "sip_respond": {"code": 503},
    "sip_delay": {"latency": 0},
    "drop": {},  # everything on its stream: a partition (one direction, or both)
    "duplicate": {"percent": 100, "gap": 1},  # the copy `gap` ms later
    "reorder": {"percent": 30, "delay": 20},  # held back `delay` ms: later ones overtake
    # Gilbert-Elliott: `p` % good -> bad, `r` % bad -> good per unit; loss in each state
    "burst_loss": {"p": 5, "r": 50, "bad_loss": 100, "good_loss": 0},
    "corrupt": {"percent": 100, "bytes": 4},  # that many bytes flipped
}


@dataclass
class Toxic:
    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.attributes,
        }

    def number(self, key: str) -> float:
        value = self.attributes.get(key, DEFAULTS[self.type].get(key, 0))
        return float(value)

    def matches(self, data: bytes) -> bool:
        """For SIP toxics: does this message match the method/status filters?"""
        want_method = self.attributes.get("method")
        want_status = self.attributes.get("status")
        want_cseq = self.attributes.get("cseq_method")
        try:
            message = parse_message(data)
        except ParseError:
            return False
        if isinstance(message, Request):
            return (
                want_status is None
                and want_cseq is None
                and (want_method is None or message.method == want_method)
            )
        return (
            want_method is None
            and (want_status is None or message.status == int(want_status))
            and (want_cseq is None or message.cseq.method == want_cseq)
        )


def applies(kind: str, transport: str) -> bool:
    """Whether a toxic of type ``kind`` acts on ``transport``: datagram faults on UDP,
    stream faults on TCP, TLS and WebSocket (TLS and wss cross the proxy as TCP), and the
    SIP-aware ones on neither TLS, whose messages they cannot read, nor WebSocket, whose
    frames they would have to make anew."""
    if transport == "udp":
        return kind not in TCP_ONLY
    return kind not in UDP_ONLY and not (transport in OPAQUE and kind.startswith("sip_"))


OPAQUE = ("tls", "ws", "wss")  # SIP-aware toxics do not act there


def make_toxic(spec: dict[str, Any], *, protocol: str, seed: int, proxy: str) -> Toxic:
    kind = spec.get("type")
    if kind not in TYPES:
        raise ToxicError(f"unknown toxic type {kind!r}; known: {', '.join(TYPES)}")
    if protocol == "udp" and kind in TCP_ONLY:
        raise ToxicError(f"toxic {kind!r} needs a TCP proxy")
    if protocol in ("tcp", "ws") and kind in UDP_ONLY:
        raise ToxicError(f"toxic {kind!r} needs a UDP proxy")
    stream = spec.get("stream", "downstream")
    if stream not in ("upstream", "downstream"):
        raise ToxicError(f"stream must be upstream or downstream, got {stream!r}")
    toxicity = float(spec.get("toxicity", 1.0))
    if not 0.0 <= toxicity <= 1.0:
        raise ToxicError(f"toxicity must be within 0..1, got {toxicity}")
    attributes = {**DEFAULTS[kind], **(spec.get("attributes") or {})}
    for key, value in attributes.items():
        if key in ("method", "cseq_method"):
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ToxicError(f"attribute {key!r} must be a non-negative number, got {value!r}")
    name = spec.get("name") or f"{kind}_{stream}"
    return Toxic(
        name=name,
        type=kind,
        stream=stream,
        toxicity=toxicity,
        attributes=attributes,
        rng=random.Random(f"{seed}:{proxy}:{name}"),
    )


ONE_WAY = {"to_site": "upstream", "from_site": "downstream"}  # a partition's directions


def fault_specs(fault_id: int, kind: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """A proxy fault's toxics, one per stream it hurts (its ``stream`` or both), as the
    real fault proxy and the simulated network both take them: one rule model. A one-way
    partition (``direction``) drops everything on that stream."""
    toxic_type = {"blackhole": "timeout", "partition": "drop"}.get(kind, kind)
    attributes = {k: v for k, v in params.items()
                  if k not in ("stream", "toxicity", "transport", "direction")}  # fmt: skip
    if kind == "blackhole":
        attributes.setdefault("timeout", 0)
    streams = [params["stream"]] if "stream" in params else ["upstream", "downstream"]
    if "direction" in params:
        streams = [ONE_WAY[str(params["direction"])]]
    return [{"type": toxic_type, "name": f"f{fault_id}-{toxic_type}-{stream}", "stream": stream,
             "toxicity": float(params.get("toxicity", 1.0)), "attributes": attributes}
            for stream in streams]  # fmt: skip


@dataclass
class Outcome:
    """What becomes of one unit: deliveries (extra delay in seconds, bytes) in order,
    maybe a reply to its sender, maybe the end of the connection."""

    deliveries: list[tuple[float, bytes]]
    reply: bytes | None = None
    close: str | None = None  # "close" | "reset"
    close_after: float = 0.0


@dataclass
class LinkState:
    """Per connection (TCP) or per client (UDP) and direction: what toxics remember."""

    sent: dict[str, int] = field(default_factory=dict)  # limit_data
    first_seen: dict[str, float] = field(default_factory=dict)  # timeout
    active: dict[str, bool] = field(default_factory=dict)  # toxicity, per connection
    bad: dict[str, bool] = field(default_factory=dict)  # burst_loss: in the bad state


def apply(
    toxics: list[Toxic],
    data: bytes,
    stream: str,
    now: float,
    link: LinkState,
    *,
    per_unit_toxicity: bool,
) -> Outcome:
    out = Outcome(deliveries=[(0.0, data)])
    for toxic in toxics:
        if toxic.stream != stream:
            continue
        if per_unit_toxicity:
            if toxic.rng.random() >= toxic.toxicity:
                continue
        elif not link.active.setdefault(toxic.name, toxic.rng.random() < toxic.toxicity):
            continue
        _one(toxic, out, now, link)
        if not out.deliveries and out.close is None and out.reply is None:
            break
    return out


def _one(toxic: Toxic, out: Outcome, now: float, link: LinkState) -> None:
    kind = toxic.type
    if kind == "latency":
        base, jitter = toxic.number("latency") / 1000, toxic.number("jitter") / 1000
        out.deliveries = [
            (d + max(0.0, base + toxic.rng.uniform(-jitter, jitter)), b) for d, b in out.deliveries
        ]
    elif kind == "bandwidth":
        rate = toxic.number("rate") * 1000  # KB/s
        if rate > 0:
            out.deliveries = [(d + len(b) / rate, b) for d, b in out.deliveries]
    elif kind == "slicer":
        out.deliveries = _slice(toxic, out.deliveries)
    elif kind == "timeout":
        out.deliveries = []
        timeout = toxic.number("timeout") / 1000
        if timeout > 0:
            first = link.first_seen.setdefault(toxic.name, now)
            out.close, out.close_after = "close", max(0.0, first + timeout - now)
    elif kind == "reset_peer":
        out.close, out.close_after = "reset", toxic.number("timeout") / 1000
    elif kind == "limit_data":
        limit = int(toxic.number("bytes"))
        used = link.sent.get(toxic.name, 0)
        kept: list[tuple[float, bytes]] = []
        for delay, chunk in out.deliveries:
            room = limit - used
            if room <= 0:
                out.close = "close"
                break
            kept.append((delay, chunk[:room]))
            used += min(room, len(chunk))
            if used >= limit:
                out.close = "close"
        link.sent[toxic.name] = used
        out.deliveries = kept
    elif kind == "loss":
        percent = toxic.number("percent")
        out.deliveries = [(d, b) for d, b in out.deliveries if toxic.rng.random() * 100 >= percent]
    elif kind == "drop":
        out.deliveries = []
    elif kind in ("duplicate", "reorder", "burst_loss", "corrupt"):
        out.deliveries = _datagram(toxic, out.deliveries, link)
    elif kind == "sip_drop":
        out.deliveries = [(d, b) for d, b in out.deliveries if not toxic.matches(b)]
    elif kind == "sip_delay":
        extra = toxic.number("latency") / 1000
        out.deliveries = [(d + extra if toxic.matches(b) else d, b) for d, b in out.deliveries]
    elif kind == "sip_respond":
        kept = []
        for delay, chunk in out.deliveries:
            if (toxic.matches(chunk) and isinstance(req := parse_message(chunk), Request)
                    and not _long_enough(toxic, req)):  # fmt: skip
                code = int(toxic.number("code"))
                reply: Response = make_response(req, code, to_tag="geolab-fault")
                reply.headers.add("Server", "geolab-fault-proxy")
                if "retry_after" in toxic.attributes:  # RFC 3261 20.33: come back in N s
                    reply.headers.add("Retry-After", str(int(toxic.number("retry_after"))))
                if "min_expires" in toxic.attributes:  # RFC 3261 10.3: at least N s
                    reply.headers.add("Min-Expires", str(int(toxic.number("min_expires"))))
                out.reply = bytes(reply)
            else:
                kept.append((delay, chunk))
        out.deliveries = kept


def _long_enough(toxic: Toxic, request: Request) -> bool:
    """With ``min_expires``, the fault is a registrar's minimum (RFC 3261 §10.3): a REGISTER
    asking for at least that long, or for none (Expires: 0), passes; a shorter one is
    answered (423 Interval Too Brief, with Min-Expires)."""
    if "min_expires" not in toxic.attributes:
        return False
    contact = request.headers.get("Contact") or ""
    found = re.search(r";\s*expires\s*=\s*(\d+)", contact, re.IGNORECASE)
    asked = found.group(1) if found else (request.headers.get("Expires") or "").strip()
    if not asked.isdigit():
        return False
    return int(asked) == 0 or int(asked) >= toxic.number("min_expires")


def _datagram(
    toxic: Toxic, deliveries: list[tuple[float, bytes]], link: LinkState
) -> list[tuple[float, bytes]]:
    """What real networks do to datagrams (netem's duplicate, reorder, Gilbert-Elliott
    loss, corrupt), seeded by the toxic's RNG."""
    rng, kind, out = toxic.rng, toxic.type, []
    for delay, chunk in deliveries:
        hit = rng.random() * 100 < toxic.number("percent") if "percent" in toxic.attributes \
            else True  # fmt: skip
        if kind == "duplicate":
            out.append((delay, chunk))
            if hit:
                out.append((delay + toxic.number("gap") / 1000, chunk))
        elif kind == "reorder":
            out.append((delay + toxic.number("delay") / 1000 if hit else delay, chunk))
        elif kind == "burst_loss":
            bad = link.bad.get(toxic.name, False)
            move = toxic.number("r" if bad else "p")
            if rng.random() * 100 < move:
                bad = not bad
            link.bad[toxic.name] = bad
            if rng.random() * 100 >= toxic.number("bad_loss" if bad else "good_loss"):
                out.append((delay, chunk))
        else:  # corrupt: bytes flipped where they fall, the length kept
            data = bytearray(chunk)
            for _ in range(int(toxic.number("bytes")) if hit and chunk else 0):
                data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
            out.append((delay, bytes(data)))
    return out


def _slice(toxic: Toxic, deliveries: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    average = int(toxic.number("average_size"))
    variation = int(toxic.number("size_variation"))
    gap = toxic.number("delay") / 1_000_000  # microseconds
    if average <= 0:
        return deliveries
    sliced: list[tuple[float, bytes]] = []
    for delay, chunk in deliveries:
        pos, extra = 0, 0.0
        while pos < len(chunk):
            size = max(1, average + toxic.rng.randint(-variation, variation))
            sliced.append((delay + extra, chunk[pos : pos + size]))
            pos += size
            extra += gap
    return sliced
