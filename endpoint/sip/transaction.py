"""The four RFC 3261 transaction state machines (section 17), with RFC 6026's Accepted.

Theory of operation
-------------------
A transaction is a table-driven state machine. Inputs are messages (a response of some
class, a retransmitted request, an ACK), the user's responses (``TU_*``), timer expiries
and transport errors. ``TABLES[kind][(state, input)]`` gives the next state and the name of
the action to run; a pair that is not in the table raises :class:`TransactionStateError`
naming the machine, the state and the input. Timers are deadlines kept in the transaction;
the owner asks :meth:`Transaction.next_timer` and calls :meth:`Transaction.handle_timer`
with the current time. Nothing here reads a clock or touches a socket: messages to send
are queued in :attr:`Transaction.outbox` and what the user must learn in
:attr:`Transaction.events`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from endpoint.sip.builder import same_branch_request
from endpoint.sip.errors import TransactionStateError
from endpoint.sip.events import (
    Address,
    Event,
    Outgoing,
    ResponseReceived,
    TransactionTerminated,
    TxKey,
)
from endpoint.sip.message import Request, Response, make_response
from endpoint.sip.timers import Timer, TimerConfig, is_reliable


class Kind(enum.StrEnum):
    CLIENT_INVITE = "client INVITE"
    CLIENT_NON_INVITE = "client non-INVITE"
    SERVER_INVITE = "server INVITE"
    SERVER_NON_INVITE = "server non-INVITE"


class State(enum.StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Input(enum.StrEnum):
    R1XX = "1xx response"
    R2XX = "2xx response"
    R3XX_6XX = "300-699 response"
    REQUEST = "request retransmission"
    ACK = "ACK"
    TU_1XX = "TU 1xx"
    TU_2XX = "TU 2xx"
    TU_3XX_6XX = "TU 300-699"
    TRANSPORT_ERROR = "transport error"
    TIMER_A = "Timer A"
    TIMER_B = "Timer B"
    TIMER_D = "Timer D"
    TIMER_E = "Timer E"
    TIMER_F = "Timer F"
    TIMER_G = "Timer G"
    TIMER_H = "Timer H"
    TIMER_I = "Timer I"
    TIMER_J = "Timer J"
    TIMER_K = "Timer K"
    TIMER_L = "Timer L"
    TIMER_M = "Timer M"


TIMER_INPUT = {timer: Input(f"Timer {timer.value}") for timer in Timer}
S, I = State, Input  # noqa: E741 (the tables' shorthand; code below names the classes,
# whose members compiled code reads as constants)

# (state, input) -> (next state, action)
Table = dict[tuple[State, Input], tuple[State, str]]
TABLES: dict[Kind, Table] = {
    Kind.CLIENT_NON_INVITE: {
        (S.TRYING, I.TIMER_E): (S.TRYING, "retransmit_request"),
        (S.TRYING, I.TIMER_F): (S.TERMINATED, "time_out"),
        (S.TRYING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error"),
        (S.TRYING, I.R1XX): (S.PROCEEDING, "pass_up"),
        (S.TRYING, I.R2XX): (S.COMPLETED, "final_non_invite"),
        (S.TRYING, I.R3XX_6XX): (S.COMPLETED, "final_non_invite"),
        (S.PROCEEDING, I.TIMER_E): (S.PROCEEDING, "retransmit_request"),
        (S.PROCEEDING, I.TIMER_F): (S.TERMINATED, "time_out"),
        (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error"),
        (S.PROCEEDING, I.R1XX): (S.PROCEEDING, "pass_up"),
        (S.PROCEEDING, I.R2XX): (S.COMPLETED, "final_non_invite"),
        (S.PROCEEDING, I.R3XX_6XX): (S.COMPLETED, "final_non_invite"),
        (S.COMPLETED, I.R1XX): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.R2XX): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.R3XX_6XX): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.TRANSPORT_ERROR): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.TIMER_K): (S.TERMINATED, "terminate"),
    },
    Kind.CLIENT_INVITE: {
        (S.CALLING, I.TIMER_A): (S.CALLING, "retransmit_request"),
        (S.CALLING, I.TIMER_B): (S.TERMINATED, "time_out"),
        (S.CALLING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error"),
        (S.CALLING, I.R1XX): (S.PROCEEDING, "pass_up"),
        (S.CALLING, I.R2XX): (S.ACCEPTED, "accept"),
        (S.CALLING, I.R3XX_6XX): (S.COMPLETED, "final_invite_failure"),
        (S.PROCEEDING, I.R1XX): (S.PROCEEDING, "pass_up"),
        (S.PROCEEDING, I.R2XX): (S.ACCEPTED, "accept"),
        (S.PROCEEDING, I.R3XX_6XX): (S.COMPLETED, "final_invite_failure"),
        (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error"),
        (S.COMPLETED, I.R1XX): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.R2XX): (S.COMPLETED, "ignore"),
        (S.COMPLETED, I.R3XX_6XX): (S.COMPLETED, "send_ack"),
        (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.COMPLETED, I.TIMER_D): (S.TERMINATED, "terminate"),
        (S.ACCEPTED, I.R1XX): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.R2XX): (S.ACCEPTED, "pass_up"),
        (S.ACCEPTED, I.R3XX_6XX): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.TRANSPORT_ERROR): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.TIMER_M): (S.TERMINATED, "terminate"),
    },
    Kind.SERVER_NON_INVITE: {
        (S.TRYING, I.REQUEST): (S.TRYING, "ignore"),
        (S.TRYING, I.TU_1XX): (S.PROCEEDING, "send_response"),
        (S.TRYING, I.TU_2XX): (S.COMPLETED, "send_final_non_invite"),
        (S.TRYING, I.TU_3XX_6XX): (S.COMPLETED, "send_final_non_invite"),
        (S.TRYING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, "resend_response"),
        (S.PROCEEDING, I.TU_1XX): (S.PROCEEDING, "send_response"),
        (S.PROCEEDING, I.TU_2XX): (S.COMPLETED, "send_final_non_invite"),
        (S.PROCEEDING, I.TU_3XX_6XX): (S.COMPLETED, "send_final_non_invite"),
        (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.COMPLETED, I.REQUEST): (S.COMPLETED, "resend_response"),
        (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.COMPLETED, I.TIMER_J): (S.TERMINATED, "terminate"),
    },
    Kind.SERVER_INVITE: {
        (S.PROCEEDING, I.REQUEST): (S.PROCEEDING, "resend_response"),
        (S.PROCEEDING, I.TU_1XX): (S.PROCEEDING, "send_response"),
        (S.PROCEEDING, I.TU_2XX): (S.ACCEPTED, "send_accept"),
        (S.PROCEEDING, I.TU_3XX_6XX): (S.COMPLETED, "send_final_invite_failure"),
        (S.PROCEEDING, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.COMPLETED, I.REQUEST): (S.COMPLETED, "resend_response"),
        (S.COMPLETED, I.TIMER_G): (S.COMPLETED, "retransmit_response"),
        (S.COMPLETED, I.TIMER_H): (S.TERMINATED, "time_out_quiet"),
        (S.COMPLETED, I.ACK): (S.CONFIRMED, "confirm"),
        (S.COMPLETED, I.TRANSPORT_ERROR): (S.TERMINATED, "transport_error_quiet"),
        (S.CONFIRMED, I.REQUEST): (S.CONFIRMED, "ignore"),
        (S.CONFIRMED, I.ACK): (S.CONFIRMED, "ignore"),
        (S.CONFIRMED, I.TIMER_I): (S.TERMINATED, "terminate"),
        (S.ACCEPTED, I.REQUEST): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.ACK): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.TU_2XX): (S.ACCEPTED, "send_response"),
        (S.ACCEPTED, I.TRANSPORT_ERROR): (S.ACCEPTED, "ignore"),
        (S.ACCEPTED, I.TIMER_L): (S.TERMINATED, "terminate"),
    },
}
# states whose one running timer only ends the transaction (K, D, M, J, I, L): it absorbs
# retransmissions until then and has nothing to send or say when the timer fires
QUIET = frozenset(
    (kind, state)
    for kind, table in TABLES.items()
    for (state, event), (_, action) in table.items()
    if event.startswith("Timer ") and action == "terminate"
)
_QUIET_STATES = {kind: frozenset(s for k, s in QUIET if k is kind) for kind in Kind}
INITIAL = {
    Kind.CLIENT_INVITE: S.CALLING,
    Kind.CLIENT_NON_INVITE: S.TRYING,
    Kind.SERVER_INVITE: S.PROCEEDING,
    Kind.SERVER_NON_INVITE: S.TRYING,
}


def response_input(status: int, *, from_tu: bool) -> Input:
    if status < 200:
        return Input.TU_1XX if from_tu else Input.R1XX
    if status < 300:
        return Input.TU_2XX if from_tu else Input.R2XX
    return Input.TU_3XX_6XX if from_tu else Input.R3XX_6XX


class Transaction:
    """One transaction. Create through :class:`endpoint.sip.layer.TransactionLayer`."""

    __slots__ = (
        "_deadlines", "_intervals", "_next", "_quiet_states", "config", "events", "failure",
        "key", "kind", "last_response", "outbox", "peer", "reliable", "request", "state",
        "transport",
    )  # fmt: skip

    def __init__(
        self,
        kind: Kind,
        key: TxKey,
        request: Request,
        peer: Address,
        transport: str,
        timers: TimerConfig,
    ) -> None:
        self.kind = kind
        self._quiet_states = _QUIET_STATES[kind]
        self.key = key
        self.request = request
        self.peer = peer
        self.transport = transport
        self.reliable = is_reliable(transport)
        self.config = timers
        self.state = INITIAL[kind]
        self.last_response: Response | None = None
        self.failure = ""  # why the transport failed, when it did
        self.outbox: list[Outgoing] = []
        self.events: list[Event] = []
        self._deadlines: dict[Timer, float] = {}
        self._next: float | None = None  # the earliest deadline (kept as they change)
        self._intervals: dict[Timer, float] = {}

    def __repr__(self) -> str:
        return f"<{self.kind} transaction {self.key[0]} {self.state}>"

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED

    @property
    def quiet(self) -> bool:
        """Only a timer that ends it silently is left (see :data:`QUIET`)."""
        return self.state in self._quiet_states

    # --- timers -------------------------------------------------------------------------
    def next_timer(self) -> float | None:
        return self._next

    def handle_timer(self, now: float) -> None:
        deadlines = self._deadlines
        while self._next is not None and self._next <= now:
            if len(deadlines) == 1:
                timer = next(iter(deadlines))
                deadlines.clear()
                self._next = None
            else:
                timer = min(deadlines, key=deadlines.__getitem__)
                del deadlines[timer]
                self._next = min(deadlines.values())
            self.fire(TIMER_INPUT[timer], now)

    def _start(self, timer: Timer, now: float, interval: float) -> None:
        self._intervals[timer] = interval
        deadlines = self._deadlines
        at = deadlines[timer] = now + interval
        self._next = at if len(deadlines) == 1 else min(deadlines.values())

    def _stop(self, *timers: Timer) -> None:
        deadlines = self._deadlines
        for timer in timers:
            deadlines.pop(timer, None)
        self._next = min(deadlines.values()) if deadlines else None

    # --- the machine --------------------------------------------------------------------
    def fire(self, event: Input, now: float, message: Response | Request | None = None) -> None:
        try:
            next_state, action = TABLES[self.kind][(self.state, event)]
        except KeyError:
            raise TransactionStateError(self.kind.value, self.state.value, event.value) from None
        self.state = next_state
        _ACTIONS[action](self, now, message)
        if next_state is State.TERMINATED:
            self._deadlines.clear()
            self._next = None

    def start(self, now: float) -> None:
        """Begin: a client sends its request; a server INVITE answers 100 Trying."""
        c = self.config
        if self.kind is Kind.CLIENT_NON_INVITE:
            self._send(self.request)
            if not self.reliable and c.retransmit:
                self._start(Timer.E, now, c.t1)
            self._start(Timer.F, now, c.timeout)
        elif self.kind is Kind.CLIENT_INVITE:
            self._send(self.request)
            if not self.reliable and c.retransmit:
                self._start(Timer.A, now, c.t1)
            self._start(Timer.B, now, c.timeout)
        elif self.kind is Kind.SERVER_INVITE:
            self.fire(Input.TU_1XX, now, make_response(self.request, 100))

    def receive_response(self, response: Response, now: float) -> None:
        self.fire(response_input(response.status, from_tu=False), now, response)

    def send_response(self, response: Response, now: float) -> None:
        self.fire(response_input(response.status, from_tu=True), now, response)

    def receive_request(self, request: Request, now: float) -> None:
        self.fire(Input.ACK if request.method == "ACK" else Input.REQUEST, now, request)

    def transport_error(self, now: float, why: str = "") -> None:
        """The transport failed; ``why`` (a TLS certificate refused, say) becomes the
        reason phrase of the local 503."""
        self.failure = why
        self.fire(Input.TRANSPORT_ERROR, now)

    # --- actions ------------------------------------------------------------------------
    def _send(self, message: Request | Response) -> None:
        self.outbox.append(Outgoing(message=message, dest=self.peer, transport=self.transport))

    def _terminated(self, reason: str) -> None:
        self.events.append(TransactionTerminated(key=self.key, reason=reason))

    def _pass(self, response: Response, *, local: bool = False) -> None:
        self.events.append(
            ResponseReceived(response=response, request=self.request, key=self.key, local=local)
        )

    def _ignore(self, now: float, message: Response | Request | None) -> None:
        pass

    def _terminate(self, now: float, message: Response | Request | None) -> None:
        self._terminated("completed")

    def _retransmit_request(self, now: float, message: Response | Request | None) -> None:
        self._send(self.request)
        if self.kind is Kind.CLIENT_INVITE:
            self._start(Timer.A, now, 2 * self._intervals[Timer.A])
        elif self.state is State.PROCEEDING:
            self._start(Timer.E, now, self.config.t2)
        else:
            self._start(Timer.E, now, min(2 * self._intervals[Timer.E], self.config.t2))

    def _local_response(self, status: int, reason: str) -> None:
        response = make_response(self.request, status, reason)
        self._pass(response, local=True)

    def _time_out(self, now: float, message: Response | Request | None) -> None:
        self._local_response(408, "Request Timeout")
        self._terminated("timeout")

    def _time_out_quiet(self, now: float, message: Response | Request | None) -> None:
        self._terminated("timeout")

    def _transport_error(self, now: float, message: Response | Request | None) -> None:
        self._local_response(503, self.failure or "Service Unavailable")
        self._terminated("transport error")

    def _transport_error_quiet(self, now: float, message: Response | Request | None) -> None:
        self._terminated("transport error")

    def _pass_up(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        if self.kind is Kind.CLIENT_INVITE:
            self._stop(Timer.A, Timer.B)  # Timer B only runs in Calling
        self._pass(message)

    def _final_non_invite(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        self._stop(Timer.E, Timer.F)
        self._pass(message)
        self._start(Timer.K, now, 0.0 if self.reliable else self.config.t4)

    def _accept(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        self._stop(Timer.A, Timer.B)
        self._pass(message)
        self._start(Timer.M, now, self.config.timeout)

    def _final_invite_failure(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        self._stop(Timer.A, Timer.B)
        self._pass(message)
        self._send_ack(now, message)
        self._start(Timer.D, now, 0.0 if self.reliable else self.config.d)

    def _send_ack(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        self._send(self.ack_for(message))

    def ack_for(self, response: Response) -> Request:
        """The ACK for a non-2xx final response (RFC 3261 17.1.1.3): same branch."""
        return same_branch_request(self.request, "ACK", response.headers.get("To") or "")

    def _send_response(self, now: float, message: Response | Request | None) -> None:
        assert isinstance(message, Response)
        self.last_response = message
        self._send(message)

    def _resend_response(self, now: float, message: Response | Request | None) -> None:
        if self.last_response is not None:
            self._send(self.last_response)

    def _send_final_non_invite(self, now: float, message: Response | Request | None) -> None:
        self._send_response(now, message)
        self._start(Timer.J, now, 0.0 if self.reliable else self.config.timeout)

    def _send_accept(self, now: float, message: Response | Request | None) -> None:
        self._send_response(now, message)
        self._start(Timer.L, now, self.config.timeout)

    def _send_final_invite_failure(self, now: float, message: Response | Request | None) -> None:
        self._send_response(now, message)
        if not self.reliable:
            self._start(Timer.G, now, self.config.t1)
        self._start(Timer.H, now, self.config.timeout)

    def _retransmit_response(self, now: float, message: Response | Request | None) -> None:
        self._resend_response(now, message)
        self._start(Timer.G, now, min(2 * self._intervals[Timer.G], self.config.t2))

    def _confirm(self, now: float, message: Response | Request | None) -> None:
        self._stop(Timer.G, Timer.H)
        self._start(Timer.I, now, 0.0 if self.reliable else self.config.t4)


# the machine's actions by name, looked up once
_ACTIONS: dict[str, Callable[[Transaction, float, Response | Request | None], None]] = {
    name: getattr(Transaction, "_" + name)
    for table in TABLES.values()
    for _, name in table.values()
}
