"""Remote parties in Python: a callee that answers (the SIPp callee's part) and a caller
that calls through a site and hangs up (the SIPp caller's part). They run on whatever
network the lab gives them (``LabInterface.party_network``): the simulated one, or real UDP
sockets (:class:`UdpNet`) where SIPp is not installed."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from endpoint.sip.builder import build_register, build_request, via_value
from endpoint.sip.events import Address, RequestReceived, ResponseReceived
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import TransactionLayer
from endpoint.sip.message import Message, Request, Response, make_response
from endpoint.sip.sdp import Sdp, parse_sdp
from endpoint.sip.uri import SipURI
from lab.net.party import Net
from lab.net.wire import Payload, decode


@dataclass(frozen=True)
class PartyResult:
    ok: bool
    output: str = ""


class _Party:
    def __init__(self, network: Net, address: Address, seed: int) -> None:
        self.network = network
        self.address = address
        self.layer = TransactionLayer()
        self.ids = IdSource(random.Random(seed))
        self.done = asyncio.Event()
        self.ok = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def start(self) -> _Party:
        def arrive(data: Payload, source: Address, transport: str) -> None:
            self.layer.receive(decode(data, transport), source, transport, self.now)
            self.pump()

        self.network.attach(self.address, arrive)
        return self

    def pump(self) -> None:
        for out in self.layer.datagrams_to_send():
            assert isinstance(out.message, Request | Response)
            self.network.send(self.address, out.dest, out.message.serialise(), out.transport)
        while (event := self.layer.next_event()) is not None:
            self.on_event(event)
        for out in self.layer.datagrams_to_send():
            assert isinstance(out.message, Request | Response)
            self.network.send(self.address, out.dest, out.message.serialise(), out.transport)
        if self._timer is not None:
            self._timer.cancel()
        deadline = self.layer.next_timer()
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self.layer.handle_timer(self.now)
        self.pump()

    def on_event(self, event: object) -> None:
        raise NotImplementedError

    def send(self, message: Message, dest: Address) -> None:
        self.layer.send_stateless(message, dest, "udp")
        self.pump()

    async def wait(self) -> PartyResult:
        await self.done.wait()
        return PartyResult(self.ok)

    async def stop(self) -> None:
        self.network.detach(self.address)
        if self._timer is not None:
            self._timer.cancel()
        self.done.set()

    async def __aenter__(self) -> _Party:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class PythonCallee(_Party):
    """Registers ``user`` on the given sites, answers every INVITE, every re-INVITE and BYE
    (taking a session timer an INVITE offers, as RFC 4028 §9 lets a UAS)."""

    def __init__(
        self, network: Net, address: Address, user: str, calls: int, seed: int = 0
    ) -> None:
        super().__init__(network, address, seed)
        self.user = user
        self.calls = calls
        self.ended = 0

    async def register(self, site: Address, domain: str) -> None:
        req = build_register(
            self.user,
            domain,
            via=via_value("udp", *self.address, self.ids.branch()),
            tag=self.ids.tag(),
            call_id=self.ids.call_id(self.address[0]),
            contact=f"<sip:{self.user}@{self.address[0]}:{self.address[1]}>",
            expires=3600,
        )
        self.layer.send_request(req, site, "udp", self.now)
        self.pump()

    def on_event(self, event: object) -> None:
        if not isinstance(event, RequestReceived) or event.key is None:
            return
        req = event.request
        tag = req.to.tag or self.ids.tag()
        if req.method == "INVITE":
            if req.to.tag is None:
                self.layer.send_response(make_response(req, 180, to_tag=tag), self.now, event.key)
            ok = make_response(req, 200, to_tag=tag)
            ok.headers.add("Contact", f"<sip:{self.user}@{self.address[0]}:{self.address[1]}>")
            for rr in req.headers.get_all("Record-Route"):
                ok.headers.add("Record-Route", rr)
            offer = parse_sdp(req.body) if req.body else Sdp(address="0.0.0.0", port=9)
            ok.body = offer.answer(address=self.address[0], port=30000).serialise()
            ok.headers.add("Content-Type", "application/sdp")
            timer = req.headers.get("Session-Expires")
            if timer:  # RFC 4028 §9: the session timer taken as offered
                ok.headers.add("Session-Expires", timer)
                ok.headers.add("Require", "timer")
            self.layer.send_response(ok, self.now, event.key)
        else:
            self.layer.send_response(make_response(req, 200, to_tag=tag), self.now, event.key)
            if req.method == "BYE":
                self.ended += 1
                if self.ended >= self.calls:
                    self.ok = True
                    self.done.set()


class PythonCaller(_Party):
    """Calls ``dn`` through ``site``, ACKs the answer, hangs up after ``hold_ms``."""

    def __init__(
        self,
        network: Net,
        address: Address,
        site: Address,
        dn: str,
        *,
        hold_ms: int,
        auto_answer: bool,
        seed: int = 0,
        to_host: str | None = None,
    ) -> None:
        super().__init__(network, address, seed)
        self.site = site
        self.dn = dn
        self.to_host = to_host or site[0]  # the AOR's domain: To names the callee's address
        self.hold_ms = hold_ms
        self.auto_answer = auto_answer
        self.invite: Request | None = None

    async def start(self) -> PythonCaller:
        await super().start()
        extra = [("Call-Info", f"<sip:{self.site[0]}>;answer-after=0")] if self.auto_answer else []
        self.invite = build_request(
            "INVITE",
            SipURI(user=self.dn, host=self.site[0], port=self.site[1]),
            via=via_value("udp", *self.address, self.ids.branch()),
            from_=f"<sip:caller@{self.address[0]}>;tag={self.ids.tag()}",
            to=f"<sip:{self.dn}@{self.to_host}>",
            call_id=self.ids.call_id(self.address[0]),
            cseq=1,
            contact=f"<sip:caller@{self.address[0]}:{self.address[1]}>",
            extra=extra,
            body=Sdp(address=self.address[0], port=31000).serialise(),
            content_type="application/sdp",
        )
        self.layer.send_request(self.invite, self.site, "udp", self.now)
        self.pump()
        return self

    def _in_dialog(self, method: str, response: Response, cseq: int) -> Request:
        assert self.invite is not None
        route = list(reversed(response.headers.get_all("Record-Route")))
        extra = [("Route", r) for r in route]
        return build_request(
            method,
            response.contacts[0].uri,
            via=via_value("udp", *self.address, self.ids.branch()),
            from_=self.invite.headers.get("From", ""),
            to=response.headers.get("To", ""),
            call_id=self.invite.call_id,
            cseq=cseq,
            extra=extra,
        )

    def on_event(self, event: object) -> None:
        if isinstance(event, RequestReceived):
            if event.key is not None:
                self.layer.send_response(make_response(event.request, 200), self.now, event.key)
            return
        if not isinstance(event, ResponseReceived) or event.response.status < 200:
            return
        response = event.response
        if response.cseq.method == "INVITE":
            if response.status >= 300:
                self.done.set()
                return
            ack = self._in_dialog("ACK", response, 1)
            self.send(ack, self.site)
            bye = self._in_dialog("BYE", response, 2)
            asyncio.get_running_loop().call_later(self.hold_ms / 1000, self._bye, bye)
        elif response.cseq.method == "BYE":
            self.ok = response.status == 200
            self.done.set()

    def _bye(self, bye: Request) -> None:
        self.layer.send_request(bye, self.site, "udp", self.now)
        self.pump()
