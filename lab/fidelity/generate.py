"""Seeded random drills for differential testing: the same drill on real sites and in
virtual time must give the same verdict and, per connection, the same sequence of status
changes.

A generated drill keeps to what the simulation models (``README``: not ICMP, not kernel
buffers, not a killed site's TCP reset): UDP; two connections, each on its own site, with
settings drawn within bounds; a schedule of faults (kill, hang, partition both or one
way, latency, loss, the SIP-aware ones), each lasting well past what the phone needs to
notice it (or, for the ones it must ride out, short of that), each followed by a check
that both connections are Available again; dials between faults. Its expectations are
bounds derived from the drawn settings, so a verdict can fail either way."""

from __future__ import annotations

import random

from lab.faults.kinds import KINDS, FaultKind
from lab.scenario.models import ConnectionSpec

# faults that take a site away (noticed) and faults it must ride out (latency under the
# transaction timeout, light loss with retransmissions)
_K = FaultKind
AWAY = (  # (kind, its parameters as the drill writes them)
    (_K.KILL, ""), (_K.HANG, ""), (_K.PARTITION, ""), (_K.PARTITION, ", direction: to_site"),
    (_K.PARTITION, ", direction: from_site"), (_K.SIP_RESPOND, ", method: REGISTER, code: 503"),
    (_K.SIP_DROP, ", status: 200, cseq_method: REGISTER, stream: downstream"),
)
RIDE_OUT = (_K.LATENCY, _K.LOSS)


def detection(c: ConnectionSpec) -> float:
    """How long the phone may take to notice its site gone (the drill's bound)."""
    if c.keepalive:
        return c.keepalive_interval + c.keepalive_timeout
    return c.reg_interval + c.transaction_timeout


def recovery(c: ConnectionSpec) -> float:
    return c.retry_interval + c.transaction_timeout


def connection_yaml(c: ConnectionSpec) -> str:
    """The drill's connection as one line of its YAML: the settings drawn for it (a
    keep-alive's only when it has one)."""
    keys = ["site", "reg_interval", "retry_interval", "transaction_timeout"]
    if c.keepalive:
        keys += ["keepalive", "keepalive_interval", "keepalive_timeout"]
    return "    - {" + ", ".join(f"{k}: {getattr(c, k)}" for k in keys) + "}"


def _r(rng: random.Random, lo: float, hi: float) -> float:
    return round(rng.uniform(lo, hi), 1)


def generate(seed: int) -> str:
    """Drill ``seed`` as YAML text."""
    rng = random.Random(f"drill:{seed}")
    conns = []
    for site in ("a", "b"):
        tt = _r(rng, 0.5, 1.5)
        conns.append(ConnectionSpec(
            site=site, reg_interval=_r(rng, max(2.0, tt + 1), 5), retry_interval=_r(rng, 0.5, 1.5),
            transaction_timeout=tt, keepalive="options" if rng.random() < 0.6 else None,
            keepalive_interval=_r(rng, 0.3, 1.0), keepalive_timeout=_r(rng, 0.3, 0.8),
        ))  # fmt: skip
    lines = [
        f"name: generated drill {seed}",
        "description: >",
        f"  A seeded random drill (lab.fidelity.generate, seed {seed}), run both ways.",
        "endpoint:",
        "  invite_timeout: 2",
        "  connections:",
        *(connection_yaml(c) for c in conns),
        "parties:",
        '  - {name: callee, kind: callee, site: [a, b], user: "6001", calls: 10}',
        "steps:",
    ]
    for i in range(2):
        lines += [f"  - wait_for: {{event: ConnectionStatusChanged, connection: {i}, "
                  "status: Available}", "    within: 5s"]  # fmt: skip
    for n in range(rng.randint(1, 3)):
        i = rng.randrange(2)
        c = conns[i]
        if rng.random() < 0.75:
            kind, params = rng.choice(AWAY)
            # the SIP rules act on REGISTER: the next renewal meets them, keep-alive or not
            notice = detection(c) if KINDS[kind].outage else c.reg_interval + c.transaction_timeout
            hold = round(notice + 1.0, 1)
            lines += _fault(n, kind, params, c.site, hold, rng)
            lines += [f"  - expect: {{event: ConnectionStatusChanged, connection: {i}, "
                      "status: Unavailable}", f"    within: {hold}s"]  # fmt: skip
            bound = round(recovery(c) + 1.5, 1)
        else:
            kind = rng.choice(RIDE_OUT)
            lines += _fault(n, kind, "", c.site, round(detection(c) + 0.5, 1), rng)
            bound = round(detection(c) + 0.5 + recovery(c) + 1.5, 1)
        lines += [f"  - heal: f{n}",
                  f"  - expect: {{state: {{connection: {i}, status: Available}}}}",
                  f"    within: {bound}s"]  # fmt: skip
        if rng.random() < 0.5:
            lines += _dial(n, rng.randrange(2))
    lines += ["invariants:", "  - check: one_event_per_change"]
    return "\n".join(lines) + "\n"


def _fault(
    n: int, kind: FaultKind, params: str, site: str, hold: float, rng: random.Random
) -> list[str]:
    latency, percent = rng.randint(20, 150), rng.randint(3, 10)  # (drawn for every fault)
    params += {
        _K.LATENCY: f", latency: {latency}",
        _K.LOSS: f", percent: {percent}, transport: udp",
    }.get(kind, "")
    return [f"  - id: f{n}", f"    fault: {{kind: {kind.value}, site: {site}{params}}}",
            f"  - sleep: {hold}s   # how long the fault lasts"]  # fmt: skip


def _dial(n: int, conn: int) -> list[str]:
    return [
        f"  - dial: {{connection: {conn}, destination: \"6001\", as: d{n}}}",
        f"  - expect: {{event: SessionStatusChanged, session: d{n}, status: Established}}",
        "    within: 3s",
        f"  - hangup: d{n}",
        f"  - expect: {{event: SessionStatusChanged, session: d{n}, status: Disconnected}}",
        "    within: 2s",
    ]
