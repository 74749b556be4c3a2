"""PJSIP's account and call, as the pjsua2 adapter (``lab/drivers/pjsua2_adapter.py``)
subclasses them: each callback put in the JSON-lines protocol's words and handed to the
adapter, nothing decided here. Imported only in the adapter's process."""

from __future__ import annotations

import time
from typing import Any, Protocol

try:
    import pjsua2 as pj  # type: ignore[import-not-found, import-untyped, unused-ignore]
except ImportError:  # the adapter says so as its first line, then exits 3
    pj = None


__all__ = ["Account", "Adapter", "Call", "pj"]


class Adapter(Protocol):
    def write(self, payload: dict[str, Any]) -> None: ...
    def registered(self, cid: int, code: int, reason: str, expires: int) -> None: ...
    def incoming(self, account: Account, call_id: int) -> None: ...
    def finished(self, call: Call) -> None: ...


class Account(pj.Account if pj is not None else object):  # type: ignore[misc]
    def __init__(self, adapter: Adapter, cid: int) -> None:
        super().__init__()
        self.adapter = adapter
        self.cid = cid
        self.unregistering = False

    def setRegistration(self, renew: bool) -> None:
        self.unregistering = not renew
        super().setRegistration(renew)

    def onRegState(self, prm: Any) -> None:
        if self.unregistering:
            self.unregistering = False
            return
        self.adapter.registered(self.cid, int(prm.code), str(prm.reason), int(prm.expiration))

    def onIncomingCall(self, prm: Any) -> None:
        self.adapter.incoming(self, int(prm.callId))


class Call(pj.Call if pj is not None else object):  # type: ignore[misc]
    def __init__(self, adapter: Adapter, account: Account, cid: int, sid: str, direction: str,
                 remote: str, call_id: int | None = None) -> None:  # fmt: skip
        if call_id is None:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.adapter = adapter
        self.cid = cid
        self.sid = sid
        self.direction = direction
        self.remote = remote
        self.current: str | None = None
        self.local_hangup = False
        self.confirmed = False

    def status(self, status: str, reason: str = "", code: int | None = None) -> None:
        if status == self.current:
            return
        previous, self.current = self.current, status
        self.adapter.write({"event": "SessionStatusChanged", "session": self.sid,
                            "connection": self.cid, "connection_id": self.cid, "status": status,
                            "previous": previous, "direction": self.direction,
                            "remote": self.remote, "reason": reason, "code": code,
                            "t": time.monotonic()})  # fmt: skip

    def onCallState(self, prm: Any) -> None:
        info = self.getInfo()
        state, code = info.state, int(info.lastStatusCode)
        if state == pj.PJSIP_INV_STATE_EARLY and self.direction == "outbound":
            self.status("Ringing", str(info.lastReason), code)
        elif state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
            self.status("Established", "answered", code or 200)
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            if self.local_hangup:
                reason = "LocalHangup"
            elif self.confirmed:
                reason = "RemoteHangup"
            elif self.direction == "inbound":
                reason = "RemoteCancel"
            else:
                reason = f"SipError {code} {info.lastReason}"
            self.status("Disconnected", reason, code or None)
            self.adapter.finished(self)

    def onCallMediaState(self, prm: Any) -> None:
        info = self.getInfo()
        held = any(m.status == pj.PJSUA_CALL_MEDIA_LOCAL_HOLD for m in info.media)
        if held:
            self.status("OnHold", "hold")
        elif self.confirmed and self.current == "OnHold":
            self.status("Established", "resumed")
