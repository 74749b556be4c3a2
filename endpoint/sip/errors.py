"""Errors of the SIP core.

They say whose fault a problem is: the peer's (:class:`ParseError`, a malformed message
that came in) or ours (:class:`LocalProtocolError`, a message or call the core refuses to
make). Every error names what went wrong and where.
"""

from __future__ import annotations


class SipError(Exception):
    """Base of every error raised by :mod:`endpoint.sip`."""


class ParseError(SipError, ValueError):
    """A message, header or URI that does not follow RFC 3261.

    ``where`` names the element (``"Via"``, ``"request line"``, ``"Request-URI"`` …) and
    ``status`` the response a server would answer with (400 unless said otherwise).
    """

    def __init__(self, what: str, where: str | None = None, *, status: int = 400) -> None:
        self.what = what
        self.where = where
        self.status = status
        super().__init__(f"{where}: {what}" if where else what)


class LocalProtocolError(SipError):
    """Our side asked for something the protocol does not allow."""


class TransactionStateError(LocalProtocolError):
    """An input arrived that the transaction state machine has no transition for."""

    def __init__(self, machine: str, state: str, event: str) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(f"{machine} transaction in state {state} cannot handle {event}")
