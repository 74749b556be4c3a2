"""The embedded site's logic, sans-I/O: a registrar and a stateless proxy (RFC 3261 16.11).

Routing follows the NAT-style rules the Kamailio template uses, so a fault proxy in the
path stays in the path: a registered user is reached at the address its REGISTER came
from; Contacts of dialog-forming requests and answers get an ``alias`` parameter with the
address they really came from, and in-dialog requests go there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
from collections import deque
from dataclasses import dataclass

from endpoint.sip.auth import check_credentials, parse_credentials
from endpoint.sip.builder import via_value
from endpoint.sip.errors import SipError
from endpoint.sip.events import Address, Outgoing
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import stamp_received
from endpoint.sip.message import Message, Request, Response, make_response
from endpoint.sip.uri import SipURI
from endpoint.sip.values import NameAddr, parse_name_addr

log = logging.getLogger("lab.site")
# as Kamailio numbers them in an alias
PROTO = {"udp": "1", "tcp": "2", "tls": "3", "ws": "5", "wss": "6"}
PROTO_NAME = {v: k for k, v in PROTO.items()}


@dataclass
class Binding:
    contact: str
    received: Address
    transport: str
    expires_at: float

    def __init__(  # written out: compiled code then builds one natively
        self, contact: str, received: Address, transport: str, expires_at: float
    ) -> None:
        self.contact = contact
        self.received = received
        self.transport = transport
        self.expires_at = expires_at


class SiteCore:
    def __init__(
        self,
        *,
        name: str,
        domain: str,
        address: Address,
        password: str | None = None,
        peers: dict[str, Address] | None = None,
        ids: IdSource | None = None,
        aliases: tuple[Address, ...] = (),
    ) -> None:
        self.name = name
        self.aliases = set(aliases)  # addresses that are ours too (our fault proxy's)
        self.domain = domain
        self.address = address
        self.password = password
        self.peers = peers or {}
        self.ids = ids or IdSource()
        self.bindings: dict[str, list[Binding]] = {}
        self.nonces: deque[str] = deque(maxlen=1000)
        self._out: list[Outgoing] = []

    def datagrams_to_send(self) -> list[Outgoing]:
        out, self._out = self._out, []
        return out

    def _send(self, message: Message, dest: Address, transport: str) -> None:
        self._out.append(Outgoing(message=message, dest=dest, transport=transport))

    def _is_us(self, uri: object) -> bool:
        if not isinstance(uri, SipURI):
            return False
        if uri.host in (self.domain, self.address[0]) and uri.port in (None, self.address[1]):
            return True
        return (uri.host, uri.port or 5060) in self.aliases

    # --- input ----------------------------------------------------------------------------
    def receive(self, message: Message, source: Address, transport: str, now: float) -> None:
        try:
            if isinstance(message, Response):
                self._response(message, source, transport)
            else:
                self._request(message, source, transport, now)
        except SipError as exc:
            log.warning("dropped message from %s:%s: %s", *source, exc)

    def _reply(
        self,
        request: Request,
        status: int,
        source: Address,
        transport: str,
        reason: str | None = None,
    ) -> Response:
        response = make_response(request, status, reason, to_tag=self.ids.tag())
        response.headers.add("Server", f"geolab-site-{self.name}")
        self._send(response, source, transport)
        return response

    def _request(self, req: Request, source: Address, transport: str, now: float) -> None:
        stamp_received(req, source, force_rport=True)
        routes = req.headers.get_all("Route")
        if routes and self._is_us(parse_name_addr(routes[0], "Route").uri):
            req.headers.remove_first("Route")
            routes = routes[1:]
        uri = req.uri
        local = self._is_us(uri)
        user = uri.user if isinstance(uri, SipURI) else None
        peer = isinstance(uri, SipURI) and uri.host in self.peers
        if not routes and user is None and not peer and req.method in ("REGISTER", "OPTIONS"):
            # registrations and keep-alive pings are ours whatever host they name (a proxy's)
            if req.method == "REGISTER":
                self._register(req, source, transport, now)
            else:
                self._reply(req, 200, source, transport)
            return
        if not routes and local and user is None:
            if req.method not in ("ACK", "CANCEL"):
                self._reply(req, 405, source, transport)
            return
        mf = req.headers.get("Max-Forwards")
        hops = int(mf) if mf and mf.isdigit() else 70
        if hops <= 0:
            if req.method != "ACK":
                self._reply(req, 483, source, transport)
            return
        target = self._target(req, routes, local, user, now)
        if target is None:
            if req.method != "ACK":
                self._reply(req, 404, source, transport)
            return
        dest, out_transport = target
        self._forward(req, hops, source, transport, dest, out_transport)

    def _target(
        self, req: Request, routes: list[str], local: bool, user: str | None, now: float
    ) -> tuple[Address, str] | None:
        if routes:
            return self._uri_address(parse_name_addr(routes[0], "Route").uri)
        uri = req.uri
        if isinstance(uri, SipURI) and (alias := uri.param("alias")):
            ip, port, proto = alias.split("~")
            req.uri = uri.replace(params=tuple(p for p in uri.params if p[0] != "alias"))
            return (ip, int(port)), PROTO_NAME.get(proto, "udp")
        if isinstance(uri, SipURI) and uri.host in self.peers:
            return self.peers[uri.host], "udp"
        live = [b for b in self.bindings.get(user or "", []) if b.expires_at > now]
        if live:  # users are found by name alone, whatever host the URI names
            best = max(live, key=lambda b: b.expires_at)
            with contextlib.suppress(SipError):  # retargeted to the contact (RFC 3261 16.5)
                req.uri = parse_name_addr(f"<{best.contact}>", "Contact").uri
            return best.received, best.transport
        if local or (user is not None and req.to.tag is None):
            return None
        return self._uri_address(uri)

    def _uri_address(self, uri: object) -> tuple[Address, str] | None:
        if not isinstance(uri, SipURI) or uri.host == "*":
            return None
        if uri.host in self.peers:
            return self.peers[uri.host], uri.transport
        return (uri.host, uri.port or 5060), uri.transport

    def _forward(
        self,
        req: Request,
        hops: int,
        source: Address,
        transport: str,
        dest: Address,
        out_transport: str,
    ) -> None:
        req.headers.set("Max-Forwards", str(hops - 1))
        dialog_forming = req.method in ("INVITE", "SUBSCRIBE") and req.to.tag is None
        if dialog_forming:
            req.headers.prepend("Record-Route", f"<sip:{self.address[0]}:{self.address[1]};lr>")
        if req.method in ("INVITE", "SUBSCRIBE", "UPDATE", "REFER"):
            self._alias_contact(req, source, transport)
        top = req.headers.get("Via") or ""
        branch = "z9hG4bK" + hashlib.sha1(f"{self.name}|{top}".encode()).hexdigest()[:20]
        if req.method == "ACK" and req.to.tag is not None:
            branch = "z9hG4bK" + hashlib.sha1(f"{self.name}|ack|{top}".encode()).hexdigest()[:20]
        req.headers.prepend("Via", via_value(out_transport, *self.address, branch))
        self._send(req, dest, out_transport)

    def _alias_contact(self, message: Message, source: Address, transport: str) -> None:
        contacts = message.headers.get_all("Contact")
        if len(contacts) != 1:
            return
        contact = parse_name_addr(contacts[0], "Contact")
        uri = contact.uri
        if not isinstance(uri, SipURI) or (uri.host, uri.port or 5060) == source:
            return
        alias = f"{source[0]}~{source[1]}~{PROTO.get(transport, '1')}"
        changed = dataclasses.replace(contact, uri=uri.with_param("alias", alias))
        message.headers.replace_first("Contact", str(changed))

    def _response(self, response: Response, source: Address, transport: str) -> None:
        vias = response.vias
        if len(vias) < 2 or vias[0].host != self.address[0]:
            return  # not one of ours
        response.headers.remove_first("Via")
        if response.cseq.method in ("INVITE", "SUBSCRIBE") and response.status < 300:
            self._alias_contact(response, source, transport)
        nxt = vias[1]
        host = nxt.param("received") or nxt.host
        rport = nxt.param("rport")
        port = int(rport) if rport and rport.isdigit() else (nxt.port or 5060)
        self._send(response, (host, port), nxt.transport.lower())

    # --- registrar ------------------------------------------------------------------------
    def _register(self, req: Request, source: Address, transport: str, now: float) -> None:
        to = req.to.uri
        user = to.user if isinstance(to, SipURI) else None
        if user is None:
            self._reply(req, 404, source, transport)
            return
        if self.password is not None and not self._authorized(req):
            nonce = self.ids.token(24)
            self.nonces.append(nonce)
            challenge = make_response(req, 401, to_tag=self.ids.tag())
            challenge.headers.add(
                "WWW-Authenticate",
                f'Digest realm="{self.domain}", nonce="{nonce}", qop="auth", algorithm=MD5',
            )
            self._send(challenge, source, transport)
            return
        default = req.expires if req.headers.get("Expires") is not None else 3600
        bindings = self.bindings.setdefault(user, [])
        for value in req.headers.get_all("Contact"):
            contact = parse_name_addr(value, "Contact")
            if contact.wildcard:
                if default == 0:
                    bindings.clear()
                continue
            expires = _expires(contact, default)
            text = str(contact.uri)
            bindings[:] = [b for b in bindings if b.contact != text]
            if expires > 0:
                bindings.append(Binding(text, source, transport, now + min(expires, 86400)))
        bindings[:] = [b for b in bindings if b.expires_at > now]
        ok = make_response(req, 200, to_tag=self.ids.tag())
        ok.headers.add("Server", f"geolab-site-{self.name}")
        for b in bindings:
            ok.headers.add("Contact", f"<{b.contact}>;expires={max(0, int(b.expires_at - now))}")
        self._send(ok, source, transport)

    def _authorized(self, req: Request) -> bool:
        value = req.headers.get("Authorization")
        if value is None or self.password is None:
            return False
        try:
            params = parse_credentials(value)
        except SipError:
            return False
        return params.get("nonce") in self.nonces and check_credentials(
            params, method=req.method, realm=self.domain, password=self.password
        )


def _expires(contact: NameAddr, default: int | None) -> int:
    value = contact.param("expires")
    if value is not None and value.isdigit():
        return int(value)
    return 3600 if default is None else default
