"""``PhoneFleet``: many phones on one UDP socket and one timer, as a load generator runs
many users.

Each phone keeps its own core (``Phone``): its own connections, user, contact, Call-IDs,
transactions and timers. What the fleet shares is the plumbing: one socket (so a fleet is
not capped by the open-files limit), datagrams read in batches, and one timer heap instead
of a ``call_at`` per phone. Answers to REGISTER find their phone by the user of their
From, which the phone wrote (its own AoR), other answers by the Via branch of the request
they answer; requests by the user part of their Request-URI (every phone's user is its own).
UDP only: a connection over TCP is refused at construction.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import heapq
import logging
import random
import socket
from collections.abc import Callable, Iterator, Sequence

from endpoint.aio.transport import read_datagram
from endpoint.config import EndpointConfig
from endpoint.core.events import PhoneEvent
from endpoint.core.phone import Phone
from endpoint.sip.events import Address, Outgoing
from endpoint.sip.framing import KeepAlive
from endpoint.sip.ids import IdSource
from endpoint.sip.layer import top_branch
from endpoint.sip.message import Message, Request
from endpoint.sip.uri import SipURI

log = logging.getLogger("endpoint.fleet")

OnFleetEvent = Callable[[int, PhoneEvent], None]
# (phone, direction "in"/"out", message, peer address): a wire tap, as AsyncPhone.taps
FleetTap = Callable[[int, str, Message, Address], None]

READ_BATCH = 256  # datagrams read per wake-up before the loop serves others
RECEIVE_BUFFER = 4 << 20
BRANCH_TTL = 64.0  # s a request's branch routes answers (64*T1 outlives any transaction)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """For a burst of registrations (a fleet booting, a benchmark's window): Python's
    cyclic garbage collector paused, and what exists when the burst begins (the fleet's
    phones, built beforehand) frozen out of its reach; after, the collector as it was.

    A registration leaves no cyclic garbage (refcounts free all of it; a test holds the
    fleet to that), so the pause lets nothing pile up; with the collector running, its
    passes walk every object a registration leaves behind (a phone's transaction, request
    and timers), about a sixth of a fleet's time per registration on this machine's
    benchmark."""
    enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def registering_user(from_value: str) -> str:
    """The user of a REGISTER's From as a phone writes it, ``<sip:user@domain>;tag=…``
    (its AoR): "" for anything else, which then routes to no phone."""
    colon = from_value.find(":")
    at = from_value.find("@", colon)
    if not from_value.startswith("<") or colon < 0 or not 0 <= at < from_value.find(">"):
        return ""
    return from_value[colon + 1 : at]


class PhoneFleet:
    def __init__(
        self,
        configs: Sequence[EndpointConfig],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rng: random.Random | None = None,
        on_event: OnFleetEvent | None = None,
        tap: FleetTap | None = None,
    ) -> None:
        self.configs = list(configs)
        self.host = host
        self.port = port
        self.on_event = on_event
        self.tap = tap
        self.ids = IdSource(rng)  # one source for all: branches and tags stay unique
        self.phones: list[Phone | None] = [None] * len(self.configs)
        self._users: dict[str, int] = {}
        for i, cfg in enumerate(self.configs):
            for conn in cfg.connections:
                if conn.protocol != "udp":
                    raise ValueError(f"phone {i}: a fleet runs over UDP, not {conn.protocol}")
                owner = self._users.setdefault(conn.user, i)
                if owner != i:
                    raise ValueError(f"phones {owner} and {i} share the user {conn.user!r}")
        self._branches: dict[str, int] = {}  # branch -> phone, for answers
        self._old_branches: dict[str, int] = {}
        self._heap: list[tuple[float, int]] = []
        self._armed: list[float | None] = [None] * len(self.configs)
        self._wake: asyncio.TimerHandle | None = None
        self._wake_at: float | None = None
        self._serving = False  # in _due: the wake-up is set once, after
        self._rotate_handle: asyncio.TimerHandle | None = None
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._backlog: list[tuple[bytes, Address]] = []
        self.rejected = 0  # malformed datagrams
        self.unrouted = 0  # well-formed messages for no phone of ours
        self.closed = False

    # --- lifecycle ------------------------------------------------------------------------
    async def open(self) -> PhoneFleet:
        loop = self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            with contextlib.suppress(OSError):  # capped by rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
            sock.bind((self.host, self.port))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.port = sock.getsockname()[1]
        loop.add_reader(sock.fileno(), self._readable)
        self._rotate_handle = loop.call_later(BRANCH_TTL, self._rotate)
        return self

    def prepare(self) -> None:
        """Build every phone's core now (``start`` builds one that is missing)."""
        for i in range(len(self.configs)):
            self._core(i)

    def _core(self, index: int) -> Phone:
        phone = self.phones[index]
        if phone is None:
            if self._sock is None:  # a core's contact names the socket's port
                raise RuntimeError("open the fleet before building or starting its phones")
            phone = self.phones[index] = Phone(
                self.configs[index], local_host=self.host, local_port=self.port, ids=self.ids
            )
        return phone

    def start(self, index: int) -> Phone:
        """Register phone ``index``'s enabled connections (once; open first)."""
        phone = self._core(index)
        assert self._loop is not None
        if not phone.started:
            phone.start(self._loop.time())
            self._pump(index, phone)
        return phone

    def start_all(self) -> None:
        for i in range(len(self.configs)):
            self.start(i)

    async def close(self) -> None:
        """Stop at once (no unregistration: a fleet drill ends as a power cut would)."""
        if self.closed:
            return
        self.closed = True
        if self._wake is not None:
            self._wake.cancel()
        if self._rotate_handle is not None:
            self._rotate_handle.cancel()
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
                if self._backlog:
                    self._loop.remove_writer(self._sock.fileno())
            self._sock.close()
        await asyncio.sleep(0)

    async def __aenter__(self) -> PhoneFleet:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- the network ----------------------------------------------------------------------
    def _readable(self) -> None:
        sock = self._sock
        assert sock is not None
        for _ in range(READ_BATCH):
            try:
                data, addr = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. an ICMP error reported on the socket
                log.debug("UDP error: %s", exc)
                return
            self._datagram(data, (addr[0], addr[1]))
            if self.closed:
                return

    def _datagram(self, data: bytes, source: Address) -> None:
        message = read_datagram(data, source)
        if message is None:
            self.rejected += 1
            return
        if isinstance(message, KeepAlive):
            return  # phones of a fleet do not ping over UDP
        index = self._route(message)
        if index is None or (phone := self.phones[index]) is None:
            self.unrouted += 1
            log.debug("no phone for %s from %s:%s", message, *source)
            return
        if self.tap is not None:
            self.tap(index, "in", message, source)
        assert self._loop is not None
        phone.receive(message, source, "udp", self._loop.time())
        self._pump(index, phone)

    def _route(self, message: Message) -> int | None:
        if isinstance(message, Request):
            uri = message.uri
            return self._users.get(uri.user) if isinstance(uri, SipURI) and uri.user else None
        if message.cseq.method == "REGISTER":  # (checked: every answer has a CSeq)
            return self._users.get(registering_user(message.headers.get("From") or ""))
        branch = top_branch(message)
        if branch is None:
            return None
        found = self._branches.get(branch)
        return found if found is not None else self._old_branches.get(branch)

    def _rotate(self) -> None:
        """Forget branches older than one to two TTLs (answers to them are long over)."""
        self._old_branches, self._branches = self._branches, {}
        assert self._loop is not None
        self._rotate_handle = self._loop.call_later(BRANCH_TTL, self._rotate)

    def _send(self, index: int, out: Outgoing) -> None:
        message = out.message
        if isinstance(message, KeepAlive):
            return  # CRLF keep-alives are for TCP, which a fleet does not run
        if isinstance(message, Request) and message.method != "REGISTER":
            branch = top_branch(message)  # its answers are routed by it
            if branch is not None:
                self._branches[branch] = index
        if self.tap is not None:
            self.tap(index, "out", message, out.dest)
        data = message.serialise()
        if self._backlog:
            self._backlog.append((data, out.dest))
            return
        assert self._sock is not None
        try:
            self._sock.sendto(data, out.dest)
        except (BlockingIOError, InterruptedError):
            self._backlog.append((data, out.dest))
            assert self._loop is not None
            self._loop.add_writer(self._sock.fileno(), self._flush)
        except OSError as exc:
            log.debug("UDP send to %s:%s failed: %s", *out.dest, exc)

    def _flush(self) -> None:
        assert self._sock is not None and self._loop is not None
        while self._backlog:
            data, dest = self._backlog[0]
            try:
                self._sock.sendto(data, dest)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("UDP send to %s:%s failed: %s", *dest, exc)
            self._backlog.pop(0)
        self._loop.remove_writer(self._sock.fileno())

    # --- driving the cores ----------------------------------------------------------------
    def _pump(self, index: int, phone: Phone) -> None:
        if self.closed:
            return
        for out in phone.datagrams_to_send():
            self._send(index, out)
        on_event = self.on_event
        while (event := phone.next_event()) is not None:
            if on_event is not None:
                try:
                    on_event(index, event)
                except Exception:
                    log.exception("fleet event callback failed")
        deadline = phone.next_timer()
        armed = self._armed[index]
        if deadline is not None and (armed is None or deadline < armed):
            self._armed[index] = deadline
            heapq.heappush(self._heap, (deadline, index))
            if not self._serving and (self._wake_at is None or deadline < self._wake_at):
                self._schedule(deadline)

    def _schedule(self, deadline: float) -> None:
        assert self._loop is not None
        if self._wake is not None:
            self._wake.cancel()
        self._wake_at = deadline
        self._wake = self._loop.call_at(deadline, self._due)

    def _due(self) -> None:
        assert self._loop is not None
        self._wake = self._wake_at = None
        now = self._loop.time()
        heap, armed = self._heap, self._armed
        self._serving = True  # the phones served push their deadlines; one wake-up after
        try:
            while heap and heap[0][0] <= now and not self.closed:
                deadline, index = heapq.heappop(heap)
                if armed[index] != deadline:
                    continue  # superseded by an earlier deadline, already served
                armed[index] = None
                phone = self.phones[index]
                if phone is not None:
                    phone.handle_timer(now)
                    self._pump(index, phone)
        finally:
            self._serving = False
        if heap and not self.closed:
            self._schedule(heap[0][0])
