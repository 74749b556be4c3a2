"""A call: its dialog identifiers, its media description and its status."""

from __future__ import annotations

from dataclasses import dataclass, field

from endpoint.core.status import SessionStatus
from endpoint.sip.events import Address, TxKey
from endpoint.sip.message import Request, Response
from endpoint.sip.sdp import Sdp
from endpoint.sip.uri import URI


@dataclass
class Session:
    id: str
    direction: str  # "outbound" | "inbound"
    connection: int
    remote: str
    local_sdp: Sdp
    requested_connection: int = 0
    destination: str = ""
    status: SessionStatus | None = None
    call_id: str = ""
    local_tag: str = ""
    from_value: str = ""  # our side, as written in requests we send in the dialog
    to_value: str = ""  # the other side
    local_cseq: int = 1
    remote_target: URI | None = None
    route_set: list[str] = field(default_factory=list)
    invite: Request | None = None
    invite_key: TxKey | None = None
    invite_source: Address | None = None
    invite_transport: str = "udp"
    remote_sdp: Sdp | None = None
    tried: set[int] = field(default_factory=set)
    authed: bool = False
    held: bool = False  # we put the call on hold
    remote_hold: bool = False
    pending: str | None = None  # "hold" | "resume" while a re-INVITE is under way
    reinvite: Request | None = None
    final_2xx: Response | None = None
    awaiting_ack: bool = False
    ack: Request | None = None
    retransmit_interval: float = 0.5
    ended: bool = False
    timer_interval: int | None = None  # RFC 4028: the session interval, while one runs

    @property
    def active(self) -> bool:
        return not self.ended and self.status in (SessionStatus.ESTABLISHED, SessionStatus.ON_HOLD)
