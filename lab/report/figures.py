"""Disaster-recovery figures measured from a drill's stream, per connection and outage:
how long the endpoint took to see a site go (fault → Unavailable: detection) and come
back (heal → Available: recovery), how many status changes one outage cost (flaps: 2 is
one Unavailable and one Available), how hard it hit the dead site (REGISTERs it sent per
minute while the site was out), how long a dial took to get through the other
connection when its own site was out (failover dial: first Dialing → Established), and
where a connection named by host name went: from an outage of its site, or a DNS change
leading its name elsewhere, to the first registration another site granted it (time to
the next target; time to follow a DNS change).

Only what the stream shows is measured: nothing seen is ``None``, never a guess."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from endpoint.core.events import ConnectionStatusChanged, SessionStatusChanged
from lab.faults.kinds import OUTAGES
from lab.stream.events import (
    ConnectionPlaced,
    EndpointEvent,
    Event,
    FaultApplied,
    FaultHealed,
    SipObserved,
)

# faults after which a site does not answer the endpoint
RATE_AFTER = 10.0  # s: a rate over a shorter outage says little


@dataclass(frozen=True)
class Outage:
    connection: int
    site: str
    fault: str
    start: float  # when the fault was applied (s into the run)
    end: float | None  # when it was healed
    detection: float | None  # s from the fault to Unavailable
    recovery: float | None  # s from the heal to Available again
    flaps: int  # status changes from the fault to the recovery (or the drill's end)
    registers: int  # REGISTERs sent to the site while it was out (retransmissions too)
    registers_per_min: float | None  # their rate, for an outage of RATE_AFTER s or more


@dataclass(frozen=True)
class FailoverDial:
    session: str
    connection: int  # the connection dialed from, whose site was out
    to: int | None  # the connection it got through on
    seconds: float | None  # first Dialing → Established on another connection


@dataclass(frozen=True)
class Move:
    connection: int
    site: str  # the site it was on
    fault: str  # an outage's kind (time to the next target) or dns_change (to follow it)
    to: str | None  # the site that granted it a registration next
    seconds: float | None  # from the fault to that 200


@dataclass(frozen=True)
class DrFigures:
    outages: tuple[Outage, ...] = ()
    dials: tuple[FailoverDial, ...] = ()
    moves: tuple[Move, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.outages or self.dials or self.moves)


def dr_figures(events: Iterable[Event]) -> DrFigures:
    events = list(events)
    sites = {e.connection: e.site for e in events if isinstance(e, ConnectionPlaced)}
    changes = [(e.t, e.event) for e in events if isinstance(e, EndpointEvent)
               and isinstance(e.event, ConnectionStatusChanged)]  # fmt: skip
    healed = {e.id: _heal_began(e) for e in events if isinstance(e, FaultHealed)}
    end = events[-1].t if events else 0.0
    outages = []
    windows: dict[str, list[tuple[float, float]]] = {}  # site -> when it was out
    for fault in (e for e in events if isinstance(e, FaultApplied)):
        if fault.kind not in OUTAGES:
            continue
        heal = healed.get(fault.id)
        # from the moment the lab set about it: a killed site's TCP peers may hear of it
        # before the kill has returned
        start = fault.t - max(0.0, fault.applied_at - fault.requested_at)
        windows.setdefault(fault.site, []).append((start, heal if heal is not None else end))
        for conn, site in sorted(sites.items()):
            if site == fault.site:
                outages.append(_outage(conn, fault, start, heal, changes, events, end))
    return DrFigures(tuple(outages), tuple(_dials(events, sites, windows)),
                     tuple(_moves(events, sites)))


def _moves(events: list[Event], sites: dict[int, str]) -> list[Move]:
    """Per outage or DNS change of a connection's site: when another site first granted it
    a registration (the sip events' site says where). An outage's is kept only where it
    moved (a connection given an address stays); a DNS change's, moved or not."""
    granted = [(e.t, e.connection, e.site) for e in events if isinstance(e, SipObserved)
               and e.dir == "in" and e.status is not None and 200 <= e.status < 300
               and (e.cseq or "").endswith("REGISTER") and e.site is not None]  # fmt: skip
    moves = []
    for fault in (e for e in events if isinstance(e, FaultApplied)):
        dns = fault.kind == "dns_change"
        if fault.kind not in OUTAGES and not dns:
            continue
        for conn, site in sorted(sites.items()):
            if site != fault.site:
                continue
            got = next(((t, s) for t, c, s in granted
                        if c == conn and t >= fault.t and s != fault.site), None)  # fmt: skip
            if got is not None or dns:
                moves.append(Move(conn, site, fault.kind, got[1] if got else None,
                                  got[0] - fault.t if got else None))  # fmt: skip
    return moves


def _heal_began(heal: FaultHealed) -> float:
    """When the lab set about the heal (a restarted site may answer before it returned),
    on the run's clock; where that was not recorded, when it returned."""
    if heal.heal_requested_at is None or heal.healed_at is None:
        return heal.t
    return heal.t - max(0.0, heal.healed_at - heal.heal_requested_at)


def _outage(
    conn: int,
    fault: FaultApplied,
    start: float,
    heal: float | None,
    changes: list[tuple[float, ConnectionStatusChanged]],
    events: list[Event],
    end: float,
) -> Outage:
    mine = [(t, c) for t, c in changes if c.connection == conn and t >= start]
    down = next((t for t, c in mine if c.status == "Unavailable"), None)
    back = None
    if heal is not None and down is not None:
        back = next((t for t, c in mine if c.status == "Available" and t >= max(heal, down)),
                    None)  # fmt: skip
    until = back if back is not None else end
    out_until = heal if heal is not None else end
    registers = sum(1 for e in events if isinstance(e, SipObserved) and e.connection == conn
                    and e.dir == "out" and e.method == "REGISTER"
                    and start <= e.t <= out_until)  # fmt: skip
    minutes = (out_until - start) / 60
    return Outage(
        connection=conn, site=fault.site, fault=fault.kind, start=start, end=heal,
        detection=None if down is None else down - start,
        recovery=None if back is None or heal is None else back - heal,
        flaps=sum(1 for t, _ in mine if t <= until),
        registers=registers,
        registers_per_min=registers / minutes if minutes * 60 >= RATE_AFTER else None,
    )  # fmt: skip


def _dials(
    events: list[Event], sites: dict[int, str], windows: dict[str, list[tuple[float, float]]]
) -> list[FailoverDial]:
    """Outbound sessions dialed from a connection whose site was out at the time."""
    first: dict[str, tuple[float, int]] = {}
    through: dict[str, tuple[float, int]] = {}
    for e in events:
        if not isinstance(e, EndpointEvent) or not isinstance(e.event, SessionStatusChanged):
            continue
        s = e.event
        if s.direction != "outbound":
            continue
        if s.status == "Dialing" and s.session not in first:
            first[s.session] = (e.t, s.connection)
        elif s.status == "Established" and s.session in first and s.session not in through:
            through[s.session] = (e.t, s.connection)
    dials = []
    for session, (t, conn) in first.items():
        out = any(a <= t <= b for a, b in windows.get(sites.get(conn, ""), []))
        if not out:
            continue
        got = through.get(session)
        moved = got is not None and got[1] != conn
        dials.append(FailoverDial(session, conn, got[1] if got else None,
                                  got[0] - t if got is not None and moved else None))  # fmt: skip
    return dials


# --- summaries ---------------------------------------------------------------------------
def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class Summary:
    """An endpoint's figures over many drills (the medians; what was seen of how many)."""

    outages: int
    detected: int
    detection: float | None
    healed: int
    recovered: int
    recovery: float | None
    flaps: float | None
    failovers: int
    failed_over: int
    failover: float | None


def summary(figures: Iterable[DrFigures]) -> Summary:
    figures = list(figures)
    outages = [o for f in figures for o in f.outages]
    dials = [d for f in figures for d in f.dials]
    detections = [o.detection for o in outages if o.detection is not None]
    healed = [o for o in outages if o.end is not None]
    recoveries = [o.recovery for o in healed if o.recovery is not None]
    moved = [d.seconds for d in dials if d.seconds is not None]
    return Summary(
        outages=len(outages), detected=len(detections), detection=_median(detections),
        healed=len(healed), recovered=len(recoveries), recovery=_median(recoveries),
        flaps=_median([float(o.flaps) for o in outages]), failovers=len(dials),
        failed_over=len(moved), failover=_median(moved),
    )  # fmt: skip


def seconds(value: float | None, *, missing: str = "not seen") -> str:
    return missing if value is None else f"{value:.2f}s"


OUTAGE_HEAD = ("connection", "site", "fault", "detection", "recovery", "flaps",
               "REGISTERs while out")  # fmt: skip
DIAL_HEAD = ("session", "dialed on", "through", "failover dial")
MOVE_HEAD = ("connection", "was on", "fault", "registered next on", "after")
SUMMARY_HEAD = ("endpoint", "detection (median)", "recovery (median)", "failover dial (median)",
                "flaps per outage (median)")  # fmt: skip


def outage_cells(o: Outage) -> tuple[str, ...]:
    rate = f" ({o.registers_per_min:.0f}/min)" if o.registers_per_min is not None else ""
    return (str(o.connection), o.site, o.fault, seconds(o.detection),
            seconds(o.recovery, missing="not seen" if o.end is not None else "not healed"),
            str(o.flaps), f"{o.registers}{rate}")  # fmt: skip


def dial_cells(d: FailoverDial) -> tuple[str, ...]:
    return (d.session, str(d.connection), "—" if d.to is None else str(d.to),
            seconds(d.seconds, missing="no failover"))  # fmt: skip


def move_cells(m: Move) -> tuple[str, ...]:
    return (str(m.connection), m.site, m.fault, m.to or "—",
            seconds(m.seconds, missing="did not follow"))  # fmt: skip


def summary_cells(name: str, s: Summary) -> tuple[str, ...]:
    def of(value: float | None, seen: int, total: int) -> str:
        if total == 0:
            return "—"
        return f"{seconds(value)} ({seen}/{total})"

    flaps = "—" if s.flaps is None else f"{s.flaps:g}"
    return (name, of(s.detection, s.detected, s.outages), of(s.recovery, s.recovered, s.healed),
            of(s.failover, s.failed_over, s.failovers), flaps)  # fmt: skip


def junit_properties(f: DrFigures) -> list[tuple[str, str]]:
    """``dr.outage<N>.*`` and ``dr.dial<N>.*``: seconds, counts; absent when not seen."""
    props: list[tuple[str, str]] = []
    for n, o in enumerate(f.outages, 1):
        key = f"dr.outage{n}"
        props += [(f"{key}.connection", str(o.connection)), (f"{key}.site", o.site),
                  (f"{key}.fault", o.fault), (f"{key}.flaps", str(o.flaps)),
                  (f"{key}.registers", str(o.registers))]  # fmt: skip
        for name, value in (("detection_s", o.detection), ("recovery_s", o.recovery),
                            ("registers_per_min", o.registers_per_min)):  # fmt: skip
            if value is not None:
                props.append((f"{key}.{name}", f"{value:.3f}"))
    for n, d in enumerate(f.dials, 1):
        props.append((f"dr.dial{n}.connection", str(d.connection)))
        if d.seconds is not None:
            props.append((f"dr.dial{n}.failover_s", f"{d.seconds:.3f}"))
    for n, m in enumerate(f.moves, 1):
        props += [(f"dr.move{n}.connection", str(m.connection)), (f"dr.move{n}.fault", m.fault)]
        if m.seconds is not None and m.to is not None:
            name = "dns_follow_s" if m.fault == "dns_change" else "next_target_s"
            props += [(f"dr.move{n}.to", m.to), (f"dr.move{n}.{name}", f"{m.seconds:.3f}")]
    return props
