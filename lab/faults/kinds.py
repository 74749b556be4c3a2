"""Fault kinds: one closed set, and what each can do.

Every fault a drill, ``geolab fault`` or the nemesis asks for is a :class:`FaultKind`;
:data:`KINDS` says, for each, the layers that can apply it (``via``: the site's process,
the fault proxy, the kernel's packet filter, the container network), the first of them
being the default, the transports it touches, and whether the simulated lab applies it.
:func:`unsupported` says why a mode or backend cannot apply a fault, before any site
starts."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from endpoint.sip.grammar import is_token


class FaultKind(enum.StrEnum):
    KILL = "kill"  # SIGKILL the site; heal: start it again
    HANG = "hang"  # SIGSTOP (up, silent); heal: SIGCONT
    STOP = "stop"  # stop it cleanly; heal: start it again
    RESTART = "restart"  # stop and start (nothing left to heal)
    DOWN = "down"  # the proxy refuses (TCP) / drops (UDP) everything
    PARTITION = "partition"  # nothing crosses between endpoint and site
    LATENCY = "latency"  # `latency` ms (± `jitter`)
    LOSS = "loss"  # `percent` of datagrams dropped
    TIMEOUT = "timeout"  # Toxiproxy's: data stops, the connection closes after `timeout`
    BLACKHOLE = "blackhole"  # timeout 0: data stops, the connection stays
    RESET_PEER = "reset_peer"  # TCP RST after `timeout`
    BANDWIDTH = "bandwidth"  # `rate` KB/s
    SLICER = "slicer"  # TCP data cut into small pieces
    LIMIT_DATA = "limit_data"  # the connection closes after `bytes`
    SIP_DROP = "sip_drop"  # SIP messages matching `method`/`status` dropped
    SIP_RESPOND = "sip_respond"  # requests matching `method` answered with `status`
    SIP_DELAY = "sip_delay"  # SIP messages matching delayed by `delay` ms
    DUPLICATE = "duplicate"  # `percent` of datagrams delivered twice
    REORDER = "reorder"  # `percent` of datagrams held back `delay` ms (later ones overtake)
    BURST_LOSS = "burst_loss"  # Gilbert-Elliott loss: bursts (`p`, `r`, `bad_loss`, …)
    CORRUPT = "corrupt"  # `percent` of datagrams with `bytes` bytes flipped
    # the lab's DNS (lab.dns.zone): the names leading to the site
    DNS_NXDOMAIN = "dns_nxdomain"  # answer NXDOMAIN
    DNS_SERVFAIL = "dns_servfail"  # answer SERVFAIL
    DNS_SILENT = "dns_silent"  # answer nothing
    DNS_CHANGE = "dns_change"  # lead to site `to` instead (with TTL `ttl`)
    # transport state (the fault proxy forgets; nothing to heal)
    VIP_TAKEOVER = "vip_takeover"  # open connections reset at their next segment
    HALF_OPEN = "half_open"  # the site forgets its connections: `answer` reset or nothing
    NAT_REBIND = "nat_rebind"  # UDP flows leave from a new source port


class Layer(enum.StrEnum):
    """Where a fault is made: a drill's ``fault.via``."""

    PROCESS = "process"
    PROXY = "proxy"
    KERNEL = "kernel"
    NETWORK = "network"  # the compose backend's container network
    DNS = "dns"  # the lab's DNS server (a drill with a dns: section)


@dataclass(frozen=True)
class Param:
    """One parameter of a fault: a number within ``low``..``high`` (``whole``: an
    integer), one of ``choices``, or a SIP token (``token``)."""

    type: str = "number"  # number | whole | choice | token
    low: float = 0.0
    high: float = math.inf
    choices: tuple[str, ...] = ()
    unit: str = ""

    def problem(self, value: object) -> str | None:
        """Why ``value`` cannot be this parameter's, or None."""
        if self.type == "choice":
            if value in self.choices:
                return None
            return f"one of {', '.join(self.choices)}, not {value!r}"
        if self.type == "token":
            if isinstance(value, str) and is_token(value):
                return None
            return f"a SIP token (a method such as REGISTER), not {value!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            what = "a whole number" if self.type == "whole" else "a number"
            return f"{what}{' of ' + self.unit if self.unit else ''}, not {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"finite, not {value}"
        if self.type == "whole" and not float(value).is_integer():
            return f"a whole number, not {value!r}"
        if not self.low <= value <= self.high:
            high = "" if self.high == math.inf else f" and at most {self.high:g}"
            return f"at least {self.low:g}{high}, not {value!r}"
        return None


MS, PERCENT, SHARE = Param(unit="ms"), Param(high=100, unit="%"), Param(high=1)
STATUS = Param("whole", 100, 699)
_COMMON: dict[str, Param] = {
    "stream": Param("choice", choices=("upstream", "downstream")),
    "toxicity": SHARE,
    "transport": Param("choice", choices=("udp", "tcp", "tls", "ws", "wss")),
}
_SIP: dict[str, Param] = {
    "method": Param("token"), "status": STATUS, "cseq_method": Param("token"), **_COMMON,
}  # fmt: skip


class Effect(enum.Enum):
    """What a fault does to its site, as both labs make it and reports read it."""

    NONE = "none"  # the site stays reachable: the path is degraded, or rules bend its SIP
    ENDS = "ends"  # the site's process is gone, its registrations with it (heal: start it)
    SILENT = "silent"  # up, holding its registrations, answering nothing (hang)
    CUT = "cut"  # up, but nothing crosses between the endpoint and it


@dataclass(frozen=True)
class KindInfo:
    layers: tuple[Layer, ...]  # the first is the default
    transports: frozenset[str]
    simulated: bool
    heals: bool = True  # False: done at once, nothing to undo
    # the fault's parameters (a proxy fault's: its toxics' attributes, and where they apply)
    params: Mapping[str, Param] = field(default_factory=dict)
    effect: Effect = Effect.NONE
    # in virtual time the fault proxy's own rules make it, on the simulated path
    simulated_as_rules: bool = False
    nemesis: bool = False  # a nemesis may draw it (its default: kill, hang, partition)
    fleet: bool = False  # a fleet's outage may be one

    @property
    def default(self) -> Layer:
        return self.layers[0]

    @property
    def outage(self) -> bool:
        """The site is out of the endpoint's reach while it lasts: a drill's DR figures
        (detection, recovery) are measured around it, and it must be healed at the end."""
        return self.effect is not Effect.NONE

    @property
    def ends_site(self) -> bool:
        return self.effect is Effect.ENDS


_BOTH, _UDP, _TCP = frozenset({"udp", "tcp"}), frozenset({"udp"}), frozenset({"tcp"})
_P, _X, _K, _N = Layer.PROCESS, Layer.PROXY, Layer.KERNEL, Layer.NETWORK
_ALL = frozenset({"udp", "tcp", "tls", "ws", "wss"})
_STREAMS = _ALL - {"udp"}
KINDS: dict[FaultKind, KindInfo] = {
    FaultKind.KILL: KindInfo(
        (_P,), _BOTH, simulated=True, effect=Effect.ENDS, nemesis=True, fleet=True
    ),
    FaultKind.HANG: KindInfo(
        (_P,), _BOTH, simulated=True, effect=Effect.SILENT, nemesis=True, fleet=True
    ),
    FaultKind.STOP: KindInfo((_P,), _BOTH, simulated=True, effect=Effect.ENDS, fleet=True),
    FaultKind.RESTART: KindInfo((_P,), _BOTH, simulated=True, heals=False),
    FaultKind.DOWN: KindInfo(
        (_X,), _BOTH, simulated=True, effect=Effect.CUT, nemesis=True, fleet=True
    ),
    FaultKind.PARTITION: KindInfo(
        (_X, _K, _N), _BOTH, simulated=True, effect=Effect.CUT, nemesis=True, fleet=True,
        params={"direction": Param("choice", choices=("to_site", "from_site"))},
    ),
    FaultKind.LATENCY: KindInfo(
        (_X,), _BOTH, simulated=True, nemesis=True,
        params={"latency": MS, "jitter": MS, **_COMMON},
    ),
    FaultKind.LOSS: KindInfo(
        (_X, _K), _UDP, simulated=True, nemesis=True, params={"percent": PERCENT, **_COMMON}
    ),
    FaultKind.TIMEOUT: KindInfo(
        (_X,), _BOTH, simulated=False, effect=Effect.CUT, params={"timeout": MS, **_COMMON}
    ),
    FaultKind.BLACKHOLE: KindInfo(
        (_X,), _BOTH, simulated=False, effect=Effect.CUT, params=_COMMON
    ),
    FaultKind.RESET_PEER: KindInfo((_X,), _TCP, simulated=False, params={"timeout": MS, **_COMMON}),
    FaultKind.BANDWIDTH: KindInfo(
        (_X,), _BOTH, simulated=False, params={"rate": Param(unit="KB/s"), **_COMMON}
    ),
    FaultKind.SLICER: KindInfo(
        (_X,), _TCP, simulated=False,
        params={"average_size": Param("whole"), "size_variation": Param("whole"),
                "delay": Param(unit="µs"), **_COMMON},
    ),
    FaultKind.LIMIT_DATA: KindInfo(
        (_X,), _BOTH, simulated=False, params={"bytes": Param("whole"), **_COMMON}
    ),
    FaultKind.SIP_DROP: KindInfo(
        (_X,), _BOTH, simulated=True, simulated_as_rules=True, params=_SIP
    ),
    FaultKind.SIP_RESPOND: KindInfo(
        (_X,), _BOTH, simulated=True, simulated_as_rules=True,
        params={"code": STATUS, "retry_after": Param("whole", high=86400, unit="s"),
                "min_expires": Param("whole", high=86400, unit="s"), **_SIP},
    ),
    FaultKind.SIP_DELAY: KindInfo(
        (_X,), _BOTH, simulated=True, simulated_as_rules=True, params={"latency": MS, **_SIP}
    ),
    FaultKind.DUPLICATE: KindInfo(
        (_X,), _UDP, simulated=True, simulated_as_rules=True,
        params={"percent": PERCENT, "gap": MS, **_COMMON},
    ),
    FaultKind.REORDER: KindInfo(
        (_X,), _UDP, simulated=True, simulated_as_rules=True,
        params={"percent": PERCENT, "delay": MS, **_COMMON},
    ),
    FaultKind.BURST_LOSS: KindInfo(
        (_X,), _UDP, simulated=True, simulated_as_rules=True,
        params={"p": PERCENT, "r": PERCENT, "bad_loss": PERCENT, "good_loss": PERCENT,
                **_COMMON},
    ),
    FaultKind.CORRUPT: KindInfo(
        (_X,), _UDP, simulated=True, simulated_as_rules=True,
        params={"percent": PERCENT, "bytes": Param("whole", high=65535), **_COMMON},
    ),
    FaultKind.VIP_TAKEOVER: KindInfo((_X,), _STREAMS, simulated=True, heals=False),
    FaultKind.HALF_OPEN: KindInfo(
        (_X,), _STREAMS, simulated=True, heals=False,
        params={"answer": Param("choice", choices=("reset", "nothing"))},
    ),
    FaultKind.NAT_REBIND: KindInfo((_X,), _UDP, simulated=True, heals=False),
    FaultKind.DNS_NXDOMAIN: KindInfo((Layer.DNS,), _ALL, simulated=True),
    FaultKind.DNS_SERVFAIL: KindInfo((Layer.DNS,), _ALL, simulated=True),
    FaultKind.DNS_SILENT: KindInfo((Layer.DNS,), _ALL, simulated=True),
    FaultKind.DNS_CHANGE: KindInfo(
        (Layer.DNS,), _ALL, simulated=True,
        params={"to": Param("token"), "ttl": Param("whole", high=86400, unit="s")},
    ),
}  # fmt: skip
DNS_KINDS = frozenset(k for k, info in KINDS.items() if info.default is Layer.DNS)
# the transport-state faults: a site forgets its connections or UDP flows, at once
FORGETTING = frozenset({FaultKind.VIP_TAKEOVER, FaultKind.HALF_OPEN, FaultKind.NAT_REBIND})


def forget_mode(kind: FaultKind, params: Mapping[str, object]) -> str:
    """How a transport-state fault forgets: ``rebind`` (UDP flows), ``nothing`` or
    ``reset`` (connections; see lab.faults.proxy.Proxy.forget)."""
    if kind is FaultKind.NAT_REBIND:
        return "rebind"
    return "nothing" if params.get("answer") == "nothing" else "reset"
# which site backends each layer works with (the proxy: any, when the lab has it)
LAYER_BACKENDS: dict[Layer, frozenset[str]] = {
    Layer.PROCESS: frozenset({"auto", "kamailio", "embedded", "compose", "sim"}),
    Layer.PROXY: frozenset({"auto", "kamailio", "embedded", "compose", "external", "sim"}),
    Layer.KERNEL: frozenset({"auto", "kamailio", "embedded", "compose", "external"}),
    Layer.NETWORK: frozenset({"compose", "sim"}),
    Layer.DNS: frozenset({"auto", "kamailio", "embedded", "compose", "external", "sim"}),
}
SIMULATED = tuple(k for k, info in KINDS.items() if info.simulated)
OUTAGES = frozenset(k for k, info in KINDS.items() if info.outage)
NEMESIS = tuple(k for k, info in KINDS.items() if info.nemesis)
FLEET_OUTAGES = tuple(k for k, info in KINDS.items() if info.fleet)


def param_problems(kind: FaultKind, params: Mapping[str, object]) -> list[str]:
    """What is wrong with ``params`` for ``kind``: unknown names, values of the wrong type
    or out of range (each said with the parameter's name)."""
    known = KINDS[kind].params
    problems = []
    for name, value in params.items():
        param = known.get(name)
        if param is None:
            problems.append(
                f"fault {kind.value!r} has no parameter {name!r}"
                + (f"; its parameters: {', '.join(known)}" if known else "")
            )
        elif (why := param.problem(value)) is not None:
            problems.append(f"fault {kind.value!r} parameter {name!r}: {why}")
    return problems


def layer_of(kind: FaultKind, via: str | None) -> Layer:
    return Layer(via) if via is not None else KINDS[kind].default


def unsupported(
    kind: FaultKind, via: str | None, *, mode: str, backend: str, proxy: bool = True
) -> str | None:
    """Why this lab cannot apply ``kind`` (``via`` that layer), or None if it can.
    ``mode`` is real or sim; ``backend`` the site backend (auto, kamailio, …)."""
    info = KINDS[kind]
    if mode == "sim" and not info.simulated:
        return f"fault {kind.value!r} is not simulated (mode sim); simulated faults: " + ", ".join(
            SIMULATED
        )
    layer = layer_of(kind, via)
    if layer not in info.layers:
        return f"fault {kind.value!r} cannot be made via {layer.value}; it can via " + ", ".join(
            v.value for v in info.layers
        )
    where = "sim" if mode == "sim" else backend
    if where not in LAYER_BACKENDS[layer]:
        return (
            f"fault {kind.value!r} via {layer.value} needs a backend of "
            + ", ".join(sorted(LAYER_BACKENDS[layer] - {"auto", "sim"}))
            + f" (this lab: {where})"
        )
    if layer is Layer.PROXY and not proxy and mode != "sim":
        return f"fault {kind.value!r} needs the fault proxy (topology.proxy is false)"
    return None
