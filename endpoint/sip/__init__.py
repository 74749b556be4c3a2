"""The SIP protocol core: no sockets, no clock.

Bytes come in with :func:`parse_message`; messages go out with ``bytes(message)``;
transactions take time as a parameter (``now``) and hand back what to send and when to be
woken. The same objects run on asyncio sockets and under the simulator's virtual clock.
"""

from endpoint.sip.errors import LocalProtocolError, ParseError, SipError, TransactionStateError
from endpoint.sip.headers import Headers
from endpoint.sip.message import Message, Request, Response, make_response
from endpoint.sip.parser import parse_message
from endpoint.sip.uri import URI, AbsoluteURI, SipURI, parse_uri
from endpoint.sip.values import CSeq, NameAddr, Via, parse_name_addr, parse_via

__all__ = [
    "URI",
    "AbsoluteURI",
    "CSeq",
    "Headers",
    "LocalProtocolError",
    "Message",
    "NameAddr",
    "ParseError",
    "Request",
    "Response",
    "SipError",
    "SipURI",
    "TransactionStateError",
    "Via",
    "make_response",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
]
