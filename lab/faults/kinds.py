"""Fault kinds: one closed set, and what each can do.

Every fault a drill, ``geolab fault`` or the nemesis asks for is a :class:`FaultKind`;
:data:`KINDS` says, for each, the layers that can apply it (``via``: the site's process,
the fault proxy, the kernel's packet filter, the container network), the first of them
being the default, the transports it touches, and whether the simulated lab applies it.
:func:`unsupported` says why a mode or backend cannot apply a fault, before any site
starts."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


class Layer(enum.StrEnum):
    """Where a fault is made: a drill's ``fault.via``."""

    PROCESS = "process"
    PROXY = "proxy"
    KERNEL = "kernel"
    NETWORK = "network"  # the compose backend's container network


@dataclass(frozen=True)
class KindInfo:
    layers: tuple[Layer, ...]  # the first is the default
    transports: frozenset[str]
    simulated: bool
    heals: bool = True  # False: done at once, nothing to undo

    @property
    def default(self) -> Layer:
        return self.layers[0]


_BOTH, _UDP, _TCP = frozenset({"udp", "tcp"}), frozenset({"udp"}), frozenset({"tcp"})
_P, _X, _K, _N = Layer.PROCESS, Layer.PROXY, Layer.KERNEL, Layer.NETWORK
KINDS: dict[FaultKind, KindInfo] = {
    FaultKind.KILL: KindInfo((_P,), _BOTH, simulated=True),
    FaultKind.HANG: KindInfo((_P,), _BOTH, simulated=True),
    FaultKind.STOP: KindInfo((_P,), _BOTH, simulated=True),
    FaultKind.RESTART: KindInfo((_P,), _BOTH, simulated=True, heals=False),
    FaultKind.DOWN: KindInfo((_X,), _BOTH, simulated=True),
    FaultKind.PARTITION: KindInfo((_X, _K, _N), _BOTH, simulated=True),
    FaultKind.LATENCY: KindInfo((_X,), _BOTH, simulated=True),
    FaultKind.LOSS: KindInfo((_X, _K), _UDP, simulated=True),
    FaultKind.TIMEOUT: KindInfo((_X,), _BOTH, simulated=False),
    FaultKind.BLACKHOLE: KindInfo((_X,), _BOTH, simulated=False),
    FaultKind.RESET_PEER: KindInfo((_X,), _TCP, simulated=False),
    FaultKind.BANDWIDTH: KindInfo((_X,), _BOTH, simulated=False),
    FaultKind.SLICER: KindInfo((_X,), _TCP, simulated=False),
    FaultKind.LIMIT_DATA: KindInfo((_X,), _BOTH, simulated=False),
    FaultKind.SIP_DROP: KindInfo((_X,), _BOTH, simulated=True),
    FaultKind.SIP_RESPOND: KindInfo((_X,), _BOTH, simulated=True),
    FaultKind.SIP_DELAY: KindInfo((_X,), _BOTH, simulated=True),
    FaultKind.DUPLICATE: KindInfo((_X,), _UDP, simulated=True),
    FaultKind.REORDER: KindInfo((_X,), _UDP, simulated=True),
    FaultKind.BURST_LOSS: KindInfo((_X,), _UDP, simulated=True),
    FaultKind.CORRUPT: KindInfo((_X,), _UDP, simulated=True),
}
# which site backends each layer works with (the proxy: any, when the lab has it)
LAYER_BACKENDS: dict[Layer, frozenset[str]] = {
    Layer.PROCESS: frozenset({"auto", "kamailio", "embedded", "compose", "sim"}),
    Layer.PROXY: frozenset({"auto", "kamailio", "embedded", "compose", "external", "sim"}),
    Layer.KERNEL: frozenset({"auto", "kamailio", "embedded", "compose", "external"}),
    Layer.NETWORK: frozenset({"compose", "sim"}),
}
SIMULATED = tuple(k for k, info in KINDS.items() if info.simulated)


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
