"""The meter a storm measures with, real or simulated: it sees every REGISTER a phone sends
and every answer it gets, so it is compiled with the cores (``endpoint.compiled``)."""

from __future__ import annotations

from collections import Counter

from endpoint.sip.events import Address
from endpoint.sip.message import Message, Request, Response
from lab.fleet.meter import FleetResult


class StormMeter:
    """What a storm measures, from the REGISTERs phones send and the answers they get:
    REGISTERs per site per second, and for each phone the time from the site's return to
    its first 2xx from there (whether or not it had noticed the outage: one that had not is
    back only at its next renewal). Times are the caller's clock, counted from ``t0``."""

    def __init__(
        self, result: FleetResult, sites: dict[Address, str], watched: Address, t0: float = 0.0
    ) -> None:
        self.result = result
        self.load: dict[str, Counter[int]] = result.load
        self.sites = sites  # site address -> name
        self.watched = watched  # the address of the site that goes down
        self.t0 = t0
        self.back_at: float | None = None  # set when the site's return begins
        self.recovered: set[int] = set()

    def returned(self, now: float) -> None:
        self.back_at = now
        self.result.back_at = now - self.t0

    def sent(self, message: Message, peer: Address, now: float) -> None:
        if not isinstance(message, Request) or message.method != "REGISTER":
            return
        site = self.sites.get(peer)
        if site is not None:
            counts = self.load[site]
            second = int(now - self.t0)
            counts[second] = counts.get(second, 0) + 1  # (a Counter's += runs Python)

    def received(self, phone: int, message: Message, peer: Address, now: float) -> bool:
        """Note an answer to ``phone``; True when it is that phone's recovery."""
        if (
            self.back_at is None
            or peer != self.watched
            or phone in self.recovered
            or not isinstance(message, Response)
            or not 200 <= message.status < 300
            or message.cseq.method != "REGISTER"
        ):
            return False
        self.recovered.add(phone)
        self.result.recovery.append(now - self.back_at)
        return True
