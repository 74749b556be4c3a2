"""The transaction layer: matches messages to transactions (RFC 3261 17.1.3, 17.2.3).

Sans-I/O, in the shape of aioquic's connection: the owner feeds
``receive(message, source, transport, now)``, drains :meth:`datagrams_to_send` and
:meth:`next_event`, and calls :meth:`handle_timer` when :meth:`next_timer` is due.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections import deque

from endpoint.sip.errors import LocalProtocolError
from endpoint.sip.events import (
    Address,
    Event,
    Outgoing,
    RequestReceived,
    StrayResponse,
    TransactionTerminated,
    TxKey,
)
from endpoint.sip.framing import KeepAlive
from endpoint.sip.message import Message, Request, Response
from endpoint.sip.timers import TimerConfig
from endpoint.sip.transaction import Kind, State, Transaction
from endpoint.sip.values import Via

MAGIC_COOKIE = "z9hG4bK"
# What the quiet server transactions of one layer may hold of what peers wrote (their
# requests and our answers, which copy much of them), in characters. Past it the oldest
# quiet ones end early, as if their timer had come: a retransmission that arrives later
# is answered again, which is all a quiet transaction is there to spare. A flood of large
# requests (OPTIONS with 20 KB From headers, each held with its answer for Timer J's 32 s)
# otherwise grows an endpoint by the flood's size.
QUIET_HELD = 4 << 20


def held_size(message: Message) -> int:
    """About how much of memory ``message``'s text takes (its values and body)."""
    return sum(len(value) for _, _, value in message.headers.entries()) + len(message.body)


def server_key(request: Request) -> TxKey:
    via = request.via
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(MAGIC_COOKIE) and len(branch) > len(MAGIC_COOKIE):
        return (branch, method, f"{via.host}:{via.port or ''}")
    # RFC 2543 peers: no usable branch; key on the dialog and sequence identifiers.
    ident = "|".join((request.call_id, str(request.cseq.seq), request.from_.tag or "", str(via)))
    return (hashlib.sha1(ident.encode()).hexdigest(), method, "2543")


def top_branch(message: Message) -> str | None:
    """The top Via's branch. Read from the text when it is written plainly (a lower-case
    ``;branch=``, the one parameter whose name begins with a b, no quotes, no second Via on
    the line, a value up to the next parameter with no white space or ``=`` in it), else
    through the Via parser."""
    top = message.headers.get("Via") or ""
    start = top.find(";branch=")
    if start >= 0 and top.count(";b") + top.count(";B") == 1 and '"' not in top and "," not in top:
        start += 8
        end = top.find(";", start)
        value = top[start:] if end < 0 else top[start:end]
        # no white space in it: all of it is printable (Unicode's other spaces are not)
        # and none is an ASCII space; anything else unprintable goes the long way too
        if value and value.isprintable() and " " not in value and "=" not in value:
            return value
    return message.via.branch


def client_key(branch: str, method: str) -> TxKey:
    return (branch, "INVITE" if method == "ACK" else method, "client")


def stamp_received(request: Request, source: Address, *, force_rport: bool = False) -> None:
    """RFC 3261 18.2.1 and RFC 3581: note on the top Via where the request came from.
    ``force_rport`` answers to the source port even when the client did not ask (what a
    proxy in front of NATs does: Kamailio's ``force_rport()``)."""
    top = request.headers.get("Via") or ""
    if top.endswith(";rport") and ";received=" not in top and "," not in top:
        # the common case, written directly: what the with_param calls below produce
        # (each moves its parameter to the end: received, then rport); the Via was checked
        # when the request was parsed
        request.headers.replace_first("Via", f"{top[:-6]};received={source[0]};rport={source[1]}")
        return
    via = request.via
    changed: Via = via
    if via.host != source[0]:
        changed = changed.with_param("received", source[0])
    if (via.has_param("rport") or force_rport) and not via.param("rport"):
        changed = changed.with_param("received", source[0]).with_param("rport", str(source[1]))
    if changed is not via:
        request.headers.replace_first("Via", str(changed))


class TransactionLayer:
    def __init__(self, timers: dict[str, TimerConfig] | None = None) -> None:
        self.timers = {"udp": TimerConfig(), **(timers or {})}
        self.transactions: dict[TxKey, Transaction] = {}
        self._outbox: list[Outgoing] = []
        self._events: deque[Event] = deque()
        # (deadline, seq, key); entries go stale when a transaction's timers change and
        # are dropped lazily when they reach the top.
        self._heap: list[tuple[float, int, TxKey]] = []
        self._seq = itertools.count()
        # the earliest live deadline, kept until a transaction changes (_collect, timers)
        self._next: float | None = None
        self._next_known = False
        # quiet deadlines (deadline, seq, key): a transaction whose one timer left only
        # ends it (K, J, D, I, L, M) does not wake the owner; it ends when its time has
        # come and the layer is next used, before what is done then (_expire)
        self._quiet: list[tuple[float, int, TxKey]] = []
        self.quiet_held = 0  # what the quiet server transactions hold (QUIET_HELD)
        self._held: dict[TxKey, int] = {}

    def timer_config(self, transport: str) -> TimerConfig:
        return self.timers.get(transport.lower(), self.timers["udp"])

    # --- the user's side ----------------------------------------------------------------
    def send_request(
        self,
        request: Request,
        dest: Address,
        transport: str,
        now: float,
        *,
        timers: TimerConfig | None = None,
        branch: str | None = None,
    ) -> TxKey:
        """Start a client transaction. The request's top Via must carry a fresh branch
        (``branch``, when the caller who wrote the Via says which: not read back from it);
        ``timers`` overrides the transport's timer values for this transaction."""
        self._expire(now)
        if request.method == "ACK":
            self._outbox.append(Outgoing(message=request, dest=dest, transport=transport))
            return client_key(top_branch(request) or "", "ACK")
        if branch is None:
            branch = top_branch(request)
        if not branch or not branch.startswith(MAGIC_COOKIE):
            raise LocalProtocolError(f"top Via needs an RFC 3261 branch, got {branch!r}")
        key = client_key(branch, request.method)
        if key in self.transactions:
            raise LocalProtocolError(f"branch {branch} is already in use")
        kind = Kind.CLIENT_INVITE if request.method == "INVITE" else Kind.CLIENT_NON_INVITE
        config = timers or self.timer_config(transport)
        tx = Transaction(kind, key, request, dest, transport, config)
        self.transactions[key] = tx
        tx.start(now)
        self._collect(tx)
        return key

    def abandon(self, key: TxKey) -> None:
        """Forget a client transaction without telling anyone (the user gave up on it)."""
        self.transactions.pop(key, None)
        self._next_known = False

    def send_response(self, response: Response, now: float, key: TxKey | None = None) -> None:
        """Answer through the server transaction the response belongs to."""
        if key is None:
            raise LocalProtocolError("send_response needs the key of the request's transaction")
        self._expire(now)
        tx = self.transactions.get(key)
        if tx is None:
            raise LocalProtocolError(f"no server transaction {key}")
        tx.send_response(response, now)
        self._collect(tx)

    def send_stateless(self, message: Message | KeepAlive, dest: Address, transport: str) -> None:
        """Put a message on the wire outside any transaction (2xx retransmits, ACK for 2xx)."""
        self._outbox.append(Outgoing(message=message, dest=dest, transport=transport))

    def transport_error(self, dest: Address, transport: str, now: float, why: str = "") -> None:
        """Tell every transaction talking to ``dest`` over ``transport`` that it failed."""
        self._expire(now)
        for tx in list(self.transactions.values()):
            if tx.peer == dest and tx.transport == transport and not tx.terminated:
                tx.transport_error(now, why)
                self._collect(tx)

    # --- the network's side -------------------------------------------------------------
    def receive(self, message: Message, source: Address, transport: str, now: float) -> None:
        self._expire(now)
        if isinstance(message, Response):
            self._receive_response(message, source, transport, now)
        else:
            self._receive_request(message, source, transport, now)

    def _receive_response(
        self, response: Response, source: Address, transport: str, now: float
    ) -> None:
        key = client_key(top_branch(response) or "", response.cseq.method)
        tx = self.transactions.get(key)
        if tx is None:
            self._events.append(
                StrayResponse(response=response, source=source, transport=transport)
            )
            return
        tx.receive_response(response, now)
        self._collect(tx)

    def _receive_request(
        self, request: Request, source: Address, transport: str, now: float
    ) -> None:
        stamp_received(request, source)
        key = server_key(request)
        tx = self.transactions.get(key)
        if tx is not None:
            if request.method == "ACK" and tx.state is State.ACCEPTED:
                # the ACK for a 2xx belongs to the user, not to the INVITE transaction
                self._events.append(
                    RequestReceived(request=request, source=source, transport=transport, key=None)
                )
            tx.receive_request(request, now)
            self._collect(tx)
            return
        if request.method == "ACK":
            self._events.append(
                RequestReceived(request=request, source=source, transport=transport, key=None)
            )
            return
        kind = Kind.SERVER_INVITE if request.method == "INVITE" else Kind.SERVER_NON_INVITE
        tx = Transaction(kind, key, request, source, transport, self.timer_config(transport))
        self.transactions[key] = tx
        self._events.append(
            RequestReceived(request=request, source=source, transport=transport, key=key)
        )
        tx.start(now)
        self._collect(tx)

    # --- driving ------------------------------------------------------------------------
    def _live(self, deadline: float, key: TxKey) -> bool:
        tx = self.transactions.get(key)
        return tx is not None and tx.next_timer() == deadline

    def next_timer(self) -> float | None:
        if self._next_known:
            return self._next  # nothing changed since it was worked out
        heap = self._heap
        while heap and not self._live(heap[0][0], heap[0][2]):
            heapq.heappop(heap)
        self._next = heap[0][0] if heap else None
        self._next_known = True
        return self._next

    def handle_timer(self, now: float) -> None:
        self._expire(now)
        self._next_known = False
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, key = heapq.heappop(heap)
            if self._live(deadline, key):
                tx = self.transactions[key]
                tx.handle_timer(now)
                self._collect(tx)

    def datagrams_to_send(self) -> list[Outgoing]:
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def _collect(self, tx: Transaction) -> None:
        self._next_known = False
        if tx.outbox:
            self._outbox.extend(tx.outbox)
            tx.outbox.clear()
        if tx.events:
            for event in tx.events:
                self._events.append(event)
                if isinstance(event, TransactionTerminated):
                    self.transactions.pop(tx.key, None)
                    if self._held:
                        self.quiet_held -= self._held.pop(tx.key, 0)
            tx.events.clear()
        deadline = tx.next_timer()
        if deadline is not None and tx.key in self.transactions:
            if tx.quiet:
                heapq.heappush(self._quiet, (deadline, next(self._seq), tx.key))
                server = tx.kind is Kind.SERVER_NON_INVITE or tx.kind is Kind.SERVER_INVITE
                if server and tx.key not in self._held:
                    self._hold(tx)
            else:
                heapq.heappush(self._heap, (deadline, next(self._seq), tx.key))

    def _hold(self, tx: Transaction) -> None:
        """Count what a server transaction gone quiet holds; past :data:`QUIET_HELD`, end
        the quiet transactions whose time comes first."""
        size = held_size(tx.request)
        if tx.last_response is not None:
            size += held_size(tx.last_response)
        self._held[tx.key] = size
        self.quiet_held += size
        quiet = self._quiet
        while self.quiet_held > QUIET_HELD and quiet:
            deadline, _, key = heapq.heappop(quiet)
            if self._live(deadline, key):
                early = self.transactions[key]
                early.handle_timer(deadline)
                self._collect(early)

    def _expire(self, now: float) -> None:
        """End the transactions whose quiet timer is due by ``now``, as if it had woken the
        owner at its time: before any input at ``now`` is taken."""
        quiet = self._quiet
        while quiet and quiet[0][0] <= now:
            deadline, _, key = heapq.heappop(quiet)
            if self._live(deadline, key):
                tx = self.transactions[key]
                tx.handle_timer(now)
                self._collect(tx)
