"""A virtual-time network for driving the sans-I/O phone against small sans-I/O sites.

Sites here are test doubles (a registrar that also plays the callee); the real embedded
site lives in the lab. Messages cross the network as bytes, parsed again on arrival, so
serialisation is exercised too.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from endpoint.config import ConnectionConfig, EndpointConfig
from endpoint.core.events import ConnectionStatusChanged, PhoneEvent, SessionStatusChanged
from endpoint.core.phone import Phone
from endpoint.core.rfc3263 import TIMEOUT, DnsAnswer, DnsQuery
from endpoint.sip import Request, Response, make_response, parse_message
from endpoint.sip.builder import build_request, via_value
from endpoint.sip.events import Address, RequestReceived, ResponseReceived
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.sdp import Sdp, parse_sdp
from endpoint.sip.uri import SipURI

PHONE: Address = ("10.0.0.1", 5060)
LATENCY = 0.001


@dataclass
class MiniSite:
    address: Address
    mode: str = "up"  # up | silent | refuse (503) | answer408 (408 to REGISTER) | auth
    password: str = "pw"
    layer: TransactionLayer = field(default_factory=TransactionLayer)
    registrations: list[tuple[float, str, int]] = field(default_factory=list)  # (t, user, expires)
    requests: list[tuple[float, str]] = field(default_factory=list)
    bindings: dict[str, Address] = field(default_factory=dict)
    answer_calls: bool = True
    session_timer: bool = False  # a 2xx to an INVITE takes the Session-Expires it offers
    tags: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def handle(self, event: RequestReceived, now: float) -> None:
        req = event.request
        self.requests.append((now, req.method))
        if event.key is None:
            return
        if self.mode == "refuse" or (self.mode == "answer408" and req.method == "REGISTER"):
            status = 503 if self.mode == "refuse" else 408
            self.layer.send_response(make_response(req, status), now, event.key)
            return
        tag = f"site{next(self.tags)}"
        if req.method == "REGISTER":
            if self.mode == "auth" and req.headers.get("Authorization") is None:
                challenge = make_response(req, 401, to_tag=tag)
                challenge.headers.add(
                    "WWW-Authenticate", 'Digest realm="mini", nonce="n1", qop="auth"'
                )
                self.layer.send_response(challenge, now, event.key)
                return
            expires = int(req.headers.get("Expires") or "3600")
            user = req.to.uri.user or ""  # type: ignore[union-attr]
            self.registrations.append((now, user, expires))
            if expires:
                self.bindings[user] = event.source
            else:
                self.bindings.pop(user, None)
            ok = make_response(req, 200, to_tag=tag)
            ok.headers.add("Contact", f"{req.headers.get('Contact')};expires={expires}")
            self.layer.send_response(ok, now, event.key)
        elif req.method == "INVITE":
            ringing = make_response(req, 180, to_tag=tag)
            self.layer.send_response(ringing, now, event.key)
            if self.answer_calls:
                ok = make_response(req, 200, to_tag=tag)
                ok.headers.add("Contact", f"<sip:callee@{self.address[0]}:{self.address[1]}>")
                offer = parse_sdp(req.body)
                ok.body = offer.answer(address=self.address[0], port=30000).serialise()
                ok.headers.add("Content-Type", "application/sdp")
                if self.session_timer and req.headers.get("Session-Expires"):
                    ok.headers.add("Session-Expires", req.headers.get("Session-Expires") or "")
                    ok.headers.add("Require", "timer")
                self.layer.send_response(ok, now, event.key)
        else:
            self.layer.send_response(make_response(req, 200, to_tag=tag), now, event.key)

    def on_response(self, event: ResponseReceived) -> None:
        """Play the caller's part for 2xx to our INVITE: send the ACK."""
        response = event.response
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        request = event.request
        ack = build_request(
            "ACK",
            response.contacts[0].uri,
            via=via_value("UDP", *self.address, IdSource().branch()),
            from_=request.headers.get("From", ""),
            to=response.headers.get("To", ""),
            call_id=request.call_id,
            cseq=request.cseq.seq,
        )
        self.layer.send_stateless(ack, self.bindings_of(request), "udp")

    def bindings_of(self, request: Request) -> Address:
        user = request.uri.user or ""  # type: ignore[union-attr]
        return self.bindings[user]

    def call(self, user: str, ids: IdSource, now: float) -> Request:
        """Place an INVITE from this site to a registered user."""
        uri = SipURI(user=user, host=PHONE[0], port=PHONE[1])
        request = build_request(
            "INVITE",
            uri,
            via=via_value("UDP", *self.address, ids.branch()),
            from_=f"<sip:caller@{self.address[0]}>;tag={ids.tag()}",
            to=f"<sip:{user}@site>",
            call_id=ids.call_id(self.address[0]),
            cseq=1,
            contact=f"<sip:caller@{self.address[0]}:{self.address[1]}>",
            body=Sdp(address=self.address[0], port=31000).serialise(),
            content_type="application/sdp",
        )
        self.layer.send_request(request, self.bindings[user], "udp", now)
        return request


class Harness:
    def __init__(
        self, config: EndpointConfig, sites: list[MiniSite], *, start: bool = True
    ) -> None:
        self.now = 0.0
        self.phone = Phone(
            config,
            local_host=PHONE[0],
            local_port=PHONE[1],
            ids=IdSource(__import__("random").Random(7)),
        )
        self.sites = {site.address: site for site in sites}
        self.wire: list[tuple[float, int, Address, Address, bytes, str]] = []
        self.seq = itertools.count()
        self.events: list[PhoneEvent] = []
        self.sent: list[tuple[float, Address, Request | Response]] = []
        # the phone's DNS questions: answered by ``dns`` a round trip later, or (None)
        # never, which the phone's I/O layer turns into TIMEOUT after dns_timeout
        self.dns: Callable[[DnsQuery], DnsAnswer | None] | None = None
        self.asked: list[tuple[float, DnsQuery]] = []
        self.answers: list[tuple[float, int, DnsQuery, DnsAnswer]] = []
        if start:
            self.phone.start(self.now)
            self.pump()

    # --- moving bytes ---------------------------------------------------------------------
    def pump(self) -> None:
        for query in self.phone.dns_queries():
            self.asked.append((self.now, query))
            answer = self.dns(query) if self.dns is not None else None
            if answer is None:
                at, answer = self.now + self.phone.config.dns_timeout, DnsAnswer(TIMEOUT)
            else:
                at = self.now + 2 * LATENCY
            heapq.heappush(self.answers, (at, next(self.seq), query, answer))
        for out in self.phone.datagrams_to_send():
            if isinstance(out.message, Request | Response):
                self.sent.append((self.now, out.dest, out.message))
                self._put(PHONE, out.dest, bytes(out.message), out.transport)
        for site in self.sites.values():
            for out in site.layer.datagrams_to_send():
                if isinstance(out.message, Request | Response):
                    self._put(site.address, out.dest, bytes(out.message), out.transport)
        while (event := self.phone.next_event()) is not None:
            self.events.append(event)

    def _put(self, src: Address, dst: Address, data: bytes, transport: str) -> None:
        heapq.heappush(self.wire, (self.now + LATENCY, next(self.seq), src, dst, data, transport))

    def _deliver(self, src: Address, dst: Address, data: bytes, transport: str) -> None:
        message = parse_message(data)
        if dst == PHONE:
            self.phone.receive(message, src, transport, self.now)
        elif (site := self.sites.get(dst)) is not None and site.mode != "silent":
            site.layer.receive(message, src, transport, self.now)
            self._site_events(site)
        self.pump()

    def _site_events(self, site: MiniSite) -> None:
        while (ev := site.layer.next_event()) is not None:
            if isinstance(ev, RequestReceived):
                site.handle(ev, self.now)
            elif isinstance(ev, ResponseReceived):
                site.on_response(ev)

    def next_time(self) -> float | None:
        times = [self.phone.next_timer(), *(s.layer.next_timer() for s in self.sites.values())]
        if self.wire:
            times.append(self.wire[0][0])
        if self.answers:
            times.append(self.answers[0][0])
        return min((t for t in times if t is not None), default=None)

    def run(self, until: float) -> None:
        while (t := self.next_time()) is not None and t <= until:
            self.now = max(self.now, t)
            if self.answers and self.answers[0][0] <= self.now:
                _, _, query, answer = heapq.heappop(self.answers)
                self.phone.dns_answered(query.id, answer, self.now)
                self.pump()
                continue
            if self.wire and self.wire[0][0] <= self.now:
                _, _, src, dst, data, transport = heapq.heappop(self.wire)
                self._deliver(src, dst, data, transport)
                continue
            self.phone.handle_timer(self.now)
            for site in self.sites.values():
                site.layer.handle_timer(self.now)
                self._site_events(site)
            self.pump()
        self.now = max(self.now, until)

    def after(self, seconds: float) -> None:
        self.run(self.now + seconds)

    # --- reading results ------------------------------------------------------------------
    def statuses(self, conn: int) -> list[str]:
        return [
            e.status.value
            for e in self.events
            if isinstance(e, ConnectionStatusChanged) and e.connection == conn
        ]

    def conn_events(self) -> list[ConnectionStatusChanged]:
        return [e for e in self.events if isinstance(e, ConnectionStatusChanged)]

    def session_events(self, sid: str | None = None) -> list[SessionStatusChanged]:
        return [
            e
            for e in self.events
            if isinstance(e, SessionStatusChanged) and (sid is None or e.session == sid)
        ]


A: Address = ("10.0.1.1", 5060)
B: Address = ("10.0.2.1", 5060)


def two_site_config(**overrides: object) -> EndpointConfig:
    conn_kw = {k: v for k, v in overrides.items() if k in ConnectionConfig.model_fields}
    ep_kw = {k: v for k, v in overrides.items() if k in EndpointConfig.model_fields}
    return EndpointConfig(
        connections=[
            ConnectionConfig(id=0, user="5001", server=A[0], port=A[1], **conn_kw),  # type: ignore[arg-type]
            ConnectionConfig(id=1, user="5001", server=B[0], port=B[1], **conn_kw),  # type: ignore[arg-type]
        ],
        **ep_kw,  # type: ignore[arg-type]
    )
