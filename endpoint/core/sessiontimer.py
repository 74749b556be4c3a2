"""RFC 4028 session timers, without I/O or a clock: what a request offers, what a message
grants, and when the phone refreshes a session (as its refresher, at half the interval)
or gives it up (as the other side, when no refresh came by the interval less a third, at
most 32 s). :mod:`endpoint.core.callbase` keeps the deadlines."""

from __future__ import annotations

from endpoint.sip.message import Message


def offer(interval: float) -> list[tuple[str, str]]:
    """The headers an INVITE (or a refresh) carries: the phone refreshes (``uac``)."""
    return [("Supported", "timer"), ("Session-Expires", f"{max(1, round(interval))};refresher=uac")]


def granted(message: Message) -> tuple[int, str | None] | None:
    """The interval a message's Session-Expires (compact ``x``) names and its refresher
    (``uac``, ``uas`` or None); None when there is none, or it is not delta-seconds."""
    value = message.headers.get("Session-Expires") or message.headers.get("x")
    if not value:
        return None
    delta, *params = (p.strip() for p in value.split(";"))
    if not delta.isdigit() or len(delta) > 9 or int(delta) == 0:
        return None
    refresher = None
    for param in params:
        name, _, val = param.partition("=")
        if name.strip().lower() == "refresher" and val.strip().lower() in ("uac", "uas"):
            refresher = val.strip().lower()
    return int(delta), refresher


def ours(refresher: str | None, *, we_asked: bool) -> bool:
    """Whether the phone refreshes: ``uac`` is whoever sent the request that set the timer.
    A 2xx that names no refresher leaves it to the phone (the call survives either way); a
    request that names none is answered with ``refresher=uac`` (the other side)."""
    if refresher is None:
        return we_asked
    return (refresher == "uac") == we_asked


def deadline(interval: int, refresher: bool, now: float) -> tuple[str, float]:
    """The session's next deadline: ``refresh`` at half the interval (RFC 4028 §10's
    recommendation), or ``expire`` at the interval less min(32 s, a third of it)."""
    if refresher:
        return "refresh", now + interval / 2
    return "expire", now + interval - min(32.0, interval / 3)
