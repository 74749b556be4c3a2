"""The baresip driver's translation, without baresip: its netstrings, its account lines,
and its events as the phone events the lab grades (one per change, reasons in the
protocol's words, sessions bound to baresip's calls)."""

from __future__ import annotations

import asyncio

import pytest

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from lab.drivers.baresip import BaresipDriver
from lab.drivers.baresip_events import (
    NetstringReader,
    Translator,
    account_line,
    config_text,
    netstring,
    unsupported_by_account,
)

A = ConnectionConfig(id=0, user="5001", server="127.1.1.3", port=5060, domain="a.test",
                     reg_interval=10)  # fmt: skip
B = ConnectionConfig(id=1, user="5001", server="127.1.1.4", port=5060, domain="b.test",
                     protocol="tcp", password="s3cret", reg_interval=3600)  # fmt: skip


def translator() -> Translator:
    tr = Translator()
    tr.add(A)
    tr.add(B)
    return tr


def reg(kind: str, aor: str = "sip:5001@a.test", param: str = "") -> dict[str, object]:
    return {"event": True, "class": "register", "type": kind, "accountaor": aor, "param": param}


def call(kind: str, call_id: str, aor: str = "sip:5001@a.test", **kw: str) -> dict[str, object]:
    return {"event": True, "class": "call", "type": kind, "accountaor": aor, "id": call_id, **kw}


def test_netstrings_split_anywhere_and_garbage_is_refused() -> None:
    wire = netstring({"response": True, "ok": True, "token": "1"}) + netstring({"event": True})
    reader = NetstringReader()
    got = [m for i in range(len(wire)) for m in reader.feed(wire[i : i + 1])]
    assert got == [{"response": True, "ok": True, "token": "1"}, {"event": True}]
    for garbage in (b"hello world, this is not", b"5:[1,2],", b"3:{}}x", b"99999999999:"):
        with pytest.raises(ValueError):
            NetstringReader().feed(garbage)


def test_an_account_line_carries_the_connection() -> None:
    assert account_line(A) == ('<sip:5001@a.test>;outbound="sip:127.1.1.3:5060";regint=10;'
                               "answermode=manual")  # fmt: skip
    line = account_line(B)
    assert line.startswith("<sip:5001@b.test;transport=tcp>;")
    assert 'outbound="sip:127.1.1.4:5060;transport=tcp"' in line and "regint=3600" in line
    assert "auth_user=5001" in line and "auth_pass=s3cret" in line
    bad = B.model_copy(update={"password": 'a;b"c'})
    assert unsupported_by_account(bad) is not None and unsupported_by_account(B) is None


def test_its_config_keeps_everything_on_loopback() -> None:
    text = config_text(sip=("127.9.9.9", 5060), control=("127.9.9.9", 4444), modules="/m")
    assert "sip_listen 127.9.9.9:5060" in text and "net_interface 127.9.9.9" in text
    assert "ctrl_tcp_listen 127.9.9.9:4444" in text and "dns_server 127.0.0.1:53" in text
    lab = config_text(sip=("127.9.9.9", 5060), control=("127.9.9.9", 4444), modules="/m",
                      dns="127.9.9.53:5353")  # fmt: skip
    assert "dns_server 127.9.9.53:5353" in lab and "127.0.0.1:53" not in lab


def test_one_status_event_per_change_and_a_timeout_is_a_408() -> None:
    tr = translator()
    events = [e for kind, param in [("REGISTERING", ""), ("REGISTER_OK", "200 OK"),
                                    ("REGISTER_OK", "200 OK"), ("REGISTER_OK", "200 OK"),
                                    ("REGISTER_FAIL", "Connection timed out"),
                                    ("REGISTER_FAIL", "Connection timed out"),
                                    ("REGISTER_OK", "200 OK")]
              for e in tr.event(reg(kind, param=param), 1.0)]  # fmt: skip
    assert all(isinstance(e, ConnectionStatusChanged) and e.connection == 0 for e in events)
    assert [(e.previous, e.status) for e in events] == [  # type: ignore[union-attr]
        (None, "Registering"), ("Registering", "Available"), ("Available", "Unavailable"),
        ("Unavailable", "Available"),
    ]  # fmt: skip
    assert events[2].code == 408  # type: ignore[union-attr]
    assert tr.event(reg("REGISTER_FAIL", "sip:5001@b.test", "403 Forbidden"), 2.0)[0].code == 403  # type: ignore[union-attr]
    assert tr.event(reg("REGISTER_OK", "sip:9999@nowhere.test"), 3.0) == []  # not ours
    (removed,) = tr.removed(0, 4.0)
    assert removed.status == "Removed"  # type: ignore[union-attr]
    assert tr.event(reg("REGISTER_OK"), 5.0) == []  # a removed account says nothing more


def test_a_dial_is_bound_to_its_call_and_reasons_are_the_protocol_s() -> None:
    tr = translator()
    session = tr.dial_pending(0, "6001")
    # baresip may tell the call before it answers the dial command
    early = tr.event(call("CALL_RINGING", "c1", peeruri="sip:6001@a.test"), 1.0)
    assert [(e.status, e.previous) for e in early] == [("Dialing", None), ("Ringing", "Dialing")]  # type: ignore[union-attr]
    assert tr.dial_accepted(session, 1.1) == []  # Dialing was said already
    (up,) = tr.event(call("CALL_ESTABLISHED", "c1"), 2.0)
    assert isinstance(up, SessionStatusChanged) and up.session == session and up.connection == 0
    assert [e.status for e in tr.held(session, True, 3.0) + tr.held(session, False, 4.0)] == [
        "OnHold", "Established"]  # fmt: skip
    (down,) = tr.event(call("CALL_CLOSED", "c1", param="Connection reset by user"), 5.0)
    assert (down.status, down.reason) == ("Disconnected", "LocalHangup")  # type: ignore[union-attr]
    assert tr.event(call("CALL_CLOSED", "c1"), 6.0) == []  # forgotten once ended
    other = tr.dial_pending(1, "6001")
    tr.dial_accepted(other, 7.0)
    (closed,) = tr.event(call("CALL_CLOSED", "c2", "sip:5001@b.test",
                              param="Connection timed out"), 8.0)  # fmt: skip
    assert (closed.reason, closed.code, closed.connection) == (  # type: ignore[union-attr]
        "SipError 408 Request Timeout",
        408,
        1,
    )
    third = tr.dial_pending(0, "6002")
    tr.dial_accepted(third, 9.0)
    (busy,) = tr.event(call("CALL_CLOSED", "c3", param="486 Busy Here"), 10.0)
    assert (busy.reason, busy.code) == ("SipError 486 Busy Here", 486)  # type: ignore[union-attr]


def test_an_incoming_call_is_on_the_account_it_came_to() -> None:
    tr = translator()
    (ringing,) = tr.event(call("CALL_INCOMING", "in1", "sip:5001@b.test;transport=tcp",
                               peeruri="sip:caller@127.1.1.9"), 1.0)  # fmt: skip
    assert isinstance(ringing, SessionStatusChanged)
    assert (ringing.direction, ringing.connection, ringing.status, ringing.remote) == (
        "inbound",
        1,
        "Ringing",
        "sip:caller@127.1.1.9",
    )
    (gone,) = tr.event(call("CALL_CLOSED", "in1", "sip:5001@b.test",
                            param="Connection reset by peer"), 2.0)  # fmt: skip
    assert gone.reason == "RemoteCancel"  # type: ignore[union-attr]  # it hung up while ringing
    assert tr.event(call("CALL_RINGING", "unknown"), 3.0) == []  # no dial waits for it


def test_a_reset_control_port_is_a_closed_one() -> None:
    """A killed baresip's control port may answer with RST: the driver reads that as the
    port closed (and, not stopping, as the endpoint failing), never as a crash of its own."""

    async def main() -> list[str]:
        driver = BaresipDriver()
        failures: list[str] = []
        driver._fail = failures.append  # type: ignore[method-assign]
        driver.exited.set()  # it has exited: no waiting for that
        reader = asyncio.StreamReader()
        reader.set_exception(ConnectionResetError(104, "Connection reset by peer"))
        await driver._read_control(reader)
        driver.stopping = True
        reader = asyncio.StreamReader()
        reader.set_exception(ConnectionResetError(104, "Connection reset by peer"))
        await driver._read_control(reader)  # while stopping: nothing to say
        return failures

    assert asyncio.run(main()) == []


def test_a_site_named_by_host_name_is_its_outbound_proxy_without_a_port() -> None:
    """baresip then finds it as RFC 3263 says (NAPTR, SRV, A) from the lab's DNS server."""
    named = B.model_copy(update={"server": "sip.geolab.test", "protocol": "tcp"})
    assert 'outbound="sip:sip.geolab.test;transport=tcp"' in account_line(named)
    assert f'outbound="sip:{B.server}:{B.port}' in account_line(B)
