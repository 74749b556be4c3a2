"""Connection behaviour of the sans-I/O phone, in virtual time."""

from __future__ import annotations

import pytest

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatus

from .harness import A, B, Harness, MiniSite, two_site_config


def test_both_connections_register_at_once_with_equal_priority() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(), [a, b])
    first_two = [(t, dest) for t, dest, m in h.sent[:2]]
    assert {dest for _, dest in first_two} == {A, B} and {t for t, _ in first_two} == {0.0}
    h.after(1)
    assert h.statuses(0) == ["Registering", "Available"]
    assert h.statuses(1) == ["Registering", "Available"]
    # one registration per site even with the same DN, each with its own Call-ID
    reg_calls = {m.call_id for _, _, m in h.sent if m.cseq.method == "REGISTER"}
    assert len(reg_calls) == 2
    assert [(u, e) for _, u, e in a.registrations] == [("5001", 3600 * 1.2 + 2)]


def test_renewal_every_reg_interval_per_connection() -> None:
    a, b = MiniSite(A), MiniSite(B)
    cfg = two_site_config()
    cfg = cfg.model_copy(
        update={
            "connections": [
                cfg.connections[0].model_copy(update={"reg_interval": 10.0}),
                cfg.connections[1].model_copy(update={"reg_interval": 20.0}),
            ]
        }
    )
    h = Harness(cfg, [a, b])
    h.run(65)
    sent_a = [t for t, d, m in h.sent if d == A and m.cseq.method == "REGISTER"]
    sent_b = [t for t, d, m in h.sent if d == B and m.cseq.method == "REGISTER"]
    assert sent_a == pytest.approx([0, 10, 20, 30, 40, 50, 60])
    assert sent_b == pytest.approx([0, 20, 40, 60])
    assert h.statuses(0) == ["Registering", "Available"]  # renewals raise no event


def test_silent_site_found_unavailable_at_next_renewal_then_retried_until_it_answers() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(
        two_site_config(reg_interval=60.0, retry_interval=10.0, transaction_timeout=4.0), [a, b]
    )
    h.after(1)
    a.mode = "silent"
    h.run(200)
    (unavailable,) = [e for e in h.conn_events() if e.status is ConnectionStatus.UNAVAILABLE]
    assert (
        unavailable.connection == 0 and unavailable.code == 408 and unavailable.reason == "timeout"
    )
    assert unavailable.t == pytest.approx(60 + 4, abs=0.01)  # renewal + 64*T1
    assert h.statuses(1) == ["Registering", "Available"]  # the other site is untouched
    tries = [t for t, dest, m in h.sent if dest == A and m.cseq.method == "REGISTER"]
    assert len(tries) > 5  # continually retried
    a.mode = "up"
    back_at = h.now
    h.run(back_at + 30)
    assert h.statuses(0) == ["Registering", "Available", "Unavailable", "Available"]
    recovered = h.conn_events()[-1]
    assert recovered.t - back_at <= 10.0 + 4.0  # within retry interval + one timeout


def test_5xx_marks_unavailable_with_its_code() -> None:
    a, b = MiniSite(A, mode="refuse"), MiniSite(B)
    h = Harness(two_site_config(), [a, b])
    h.after(1)
    (event,) = [
        e for e in h.conn_events() if e.connection == 0 and e.status is ConnectionStatus.UNAVAILABLE
    ]
    assert event.code == 503 and event.reason.startswith("SIP 503")
    assert h.phone.connections[0].last_error == event.reason


def test_keepalive_detects_a_dead_site_long_before_renewal() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(
        two_site_config(keepalive="options", keepalive_interval=5.0, keepalive_timeout=2.0), [a, b]
    )
    h.after(1)
    a.mode = "silent"
    h.run(30)
    (event,) = [e for e in h.conn_events() if e.status is ConnectionStatus.UNAVAILABLE]
    assert event.connection == 0 and event.t < 1 + 5 + 5 + 2 + 0.1
    assert event.reason.startswith("keep-alive")


def test_digest_auth_on_register() -> None:
    a = MiniSite(A, mode="auth")
    cfg = two_site_config(password="pw")
    h = Harness(cfg, [a, MiniSite(B)])
    h.after(1)
    assert h.statuses(0) == ["Registering", "Available"]
    (retry,) = [m for _, d, m in h.sent if d == A and m.headers.get("Authorization")]
    first = next(m for _, d, m in h.sent if d == A)
    assert retry.call_id == first.call_id and retry.cseq.seq == first.cseq.seq + 1


def test_disable_unregisters_enable_registers_remove_stops() -> None:
    a, b = MiniSite(A), MiniSite(B)
    h = Harness(two_site_config(reg_interval=10.0), [a, b])
    h.after(1)
    h.phone.disable_connection(0, h.now)
    h.pump()
    h.after(1)
    assert a.registrations[-1][2] == 0  # Expires: 0
    count = len(a.registrations)
    h.after(30)
    assert len(a.registrations) == count  # nothing while disabled
    h.phone.enable_connection(0, h.now)
    h.pump()
    h.after(1)
    assert h.statuses(0) == ["Registering", "Available", "Disabled", "Registering", "Available"]
    h.phone.remove_connection(0, h.now)
    h.pump()
    h.after(60)
    assert h.statuses(0)[-1] == "Removed"
    assert 0 not in h.phone.connections
    assert a.registrations[-1][2] == 0 and not a.bindings


def test_add_connection_at_run_time() -> None:
    a, b = MiniSite(A), MiniSite(B)
    cfg = two_site_config()
    h = Harness(cfg.model_copy(update={"connections": cfg.connections[:1]}), [a, b])
    h.after(1)
    h.phone.add_connection(ConnectionConfig(id=7, user="5002", server=B[0], port=B[1]), h.now)
    h.pump()
    h.after(1)
    assert h.statuses(7) == ["Registering", "Available"]
    assert b.bindings.keys() == {"5002"}


def test_connections_collection_exposes_its_properties() -> None:
    h = Harness(two_site_config(reg_interval=10.0), [MiniSite(A), MiniSite(B)])
    h.after(1)
    snap = h.phone.connections[1].snapshot()
    assert snap["id"] == 1 and snap["user"] == "5001" and snap["server"] == f"{B[0]}:{B[1]}"
    assert (
        snap["protocol"] == "UDP" and snap["reg_interval"] == 10.0 and snap["status"] == "Available"
    )
    assert snap["last_registration"] is not None and snap["last_error"] is None


def test_retry_after_is_read_as_its_delta_seconds() -> None:
    from endpoint.core.replies import retry_after
    from endpoint.sip.message import Response

    def answer(value: str | None) -> Response:
        r = Response(status=503, reason="Service Unavailable")
        if value is not None:
            r.headers.add("Retry-After", value)
        return r

    assert retry_after(answer("4")) == 4
    assert retry_after(answer("120 (in a meeting);duration=3600")) == 120
    assert retry_after(answer(None)) is None
    assert retry_after(answer("soon")) is None
    assert retry_after(answer("9" * 40)) is None
