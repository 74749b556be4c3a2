"""Exactly one ConnectionStatusChanged per change of status, whatever happens."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from endpoint.config import ConnectionConfig
from endpoint.core.events import ConnectionStatus, ConnectionStatusChanged

from .harness import A, B, Harness, MiniSite, two_site_config

ACTIONS = st.sampled_from(
    [
        "a_up",
        "a_silent",
        "a_refuse",
        "b_up",
        "b_silent",
        "b_refuse",
        "flap_a",
        "disable0",
        "enable0",
        "disable1",
        "enable1",
        "remove1",
        "add1",
        "dial0",
        "wait",
    ]
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(ACTIONS, st.floats(0.05, 30.0)), max_size=25))
def test_event_stream_is_exactly_the_sequence_of_state_changes(
    steps: list[tuple[str, float]],
) -> None:
    sites = {"a": MiniSite(A), "b": MiniSite(B)}
    h = Harness(
        two_site_config(
            reg_interval=20.0,
            retry_interval=5.0,
            transaction_timeout=2.0,
            keepalive="options",
            keepalive_interval=3.0,
            keepalive_timeout=1.0,
            invite_timeout=2.0,
        ),
        list(sites.values()),
    )
    observed: dict[int, ConnectionStatus] = {}

    def check() -> None:
        for event in h.conn_events()[len(checked) :]:
            checked.append(event)
            assert event.status is not event.previous
            assert event.previous == observed.get(event.connection)
            observed[event.connection] = event.status
            if event.status is ConnectionStatus.REMOVED:
                del observed[event.connection]  # a connection added again starts afresh
        for cid, conn in h.phone.connections.items():
            assert observed[cid] is conn.status  # no missing event

    checked: list[ConnectionStatusChanged] = []
    for action, pause in steps:
        p, now = h.phone, h.now
        if action.endswith(("_up", "_silent", "_refuse")):
            name, mode = action.split("_")
            sites[name].mode = mode
        elif action == "flap_a":
            sites["a"].mode = "silent" if sites["a"].mode == "up" else "up"
        elif (
            action.startswith(("disable", "enable", "remove")) and int(action[-1]) in p.connections
        ):
            getattr(p, f"{action[:-1]}_connection")(int(action[-1]), now)
        elif action == "add1" and 1 not in p.connections:
            p.add_connection(
                ConnectionConfig(
                    id=1,
                    user="5001",
                    server=B[0],
                    port=B[1],
                    reg_interval=20.0,
                    retry_interval=5.0,
                    transaction_timeout=2.0,
                ),
                now,
            )
        elif action == "dial0" and 0 in p.connections:
            p.calls.dial(0, "6001", now)
        h.pump()
        check()
        h.after(pause)
        check()
    h.after(60)
    check()
    if 1 in h.phone.connections and h.phone.connections[1].status is not ConnectionStatus.DISABLED:
        assert sites["b"].mode != "up" or observed[1] is ConnectionStatus.AVAILABLE
