"""Runs one scenario against a real lab: sites, the endpoint (in-process), SIPp parties."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from endpoint.aio.phone import AsyncPhone
from endpoint.config import ConnectionConfig, EndpointConfig, load
from endpoint.core.events import PhoneEvent
from endpoint.sip.events import Address
from endpoint.sip.message import Message, Request
from lab.errors import LabError
from lab.lab import FaultRecord, Lab, LabConfig, LabEvent
from lab.net import allocate_address
from lab.parties.register import register_party
from lab.parties.sipp import (
    SippProcess,
    SippResult,
    callee_process,
    caller_process,
    sipp_binary,
)
from lab.run.checks import check_invariant, describe, matches
from lab.run.events import Expectation, RunEvent, ScenarioResult
from lab.run.fleetdrill import run_fleet_drill
from lab.scenario.expr import seconds
from lab.scenario.schema import ConnectionSpec, EventMatch, Scenario, Step
from lab.sim.lab import SimLab
from lab.sim.network import SimSockets, Wire
from lab.sim.parties import Net, PartyResult, SimCallee, SimCaller, UdpNet

Listener = Callable[[RunEvent], None]


class StepFailed(Exception):
    """A wait_for that did not see its event: the rest of the drill cannot go on."""


class ScenarioRunner:
    def __init__(
        self,
        scenario: Scenario,
        *,
        backend: str | None = None,
        seed: int = 0,
        workdir: Path | None = None,
        listeners: list[Listener] | None = None,
    ) -> None:
        self.s = scenario
        self.backend = backend or scenario.topology.backend
        self.seed = seed
        self.workdir = workdir
        self.listeners = listeners or []
        self.events: list[RunEvent] = []
        self.sessions: dict[str, str] = {}  # alias -> session id
        self.pending_calls: list[tuple[str, float]] = []  # inbound aliases awaiting a session
        self.faults: dict[str, list[FaultRecord]] = {}  # step id -> faults
        self.parties: list[SippProcess | SimCallee] = []
        self.callers: list[tuple[str, SippProcess | SimCaller]] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.result = ScenarioResult(
            scenario.name, scenario.source, self.backend, scenario.mode, seed
        )
        self.env = scenario.env()
        self._t0 = 0.0
        # where expectation windows start: the stream position and time of the last action
        # step (a position, not only a time: in virtual time many events share one instant)
        self.anchor = (0, 0.0)
        self._arrived = asyncio.Event()
        self.lab: Lab | SimLab | None = None
        self.sim = scenario.mode == "sim"
        self.phone: AsyncPhone | None = None

    # --- the stream -----------------------------------------------------------------------
    @property
    def t0(self) -> float:
        """The loop time the run started at: event times count from here."""
        return self._t0

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    def emit(self, kind: str, /, **data: Any) -> RunEvent:
        return self.emit_at(self.now(), kind, **data)

    def emit_at(self, t: float, kind: str, /, **data: Any) -> RunEvent:
        """An event that happened at run time ``t`` (a simulation that kept its own clock)."""
        event = RunEvent(round(t, 6), kind, data)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        self._arrived.set()
        return event

    def _on_phone(self, event: PhoneEvent) -> None:
        data = event.to_json()
        data.pop("t", None)
        self.emit(
            "endpoint", **{k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}
        )
        if (
            data.get("event") == "SessionStatusChanged"
            and data.get("direction") == "inbound"
            and data.get("status") == "Ringing"
            and self.pending_calls
        ):
            alias, _ = self.pending_calls.pop(0)
            self.sessions[alias] = str(data["session"])

    def _on_wire(self, direction: str, message: Message, peer: Address, transport: str) -> None:
        """A summary of every SIP message the endpoint sends or receives."""
        assert self.phone is not None
        conn = self._connection_of(message, peer)
        data: dict[str, Any] = {
            "dir": direction,
            "connection": conn,
            "transport": transport,
            "cseq": message.headers.get("CSeq"),
            "call_id": message.call_id,
        }
        if isinstance(message, Request):
            data["method"] = message.method
        else:
            data["status"] = message.status
        self.emit("sip", event="sip", **data)

    def _connection_of(self, message: Message, peer: Address) -> int | None:
        assert self.phone is not None
        conns = list(self.phone.connections.values())
        for c in conns:
            if c.call_id == message.call_id:  # the connection's own registration dialog
                return c.id
        here = [c for c in conns if c.address == peer]
        if len(here) > 1:  # several DNs on one site: tell them apart by user
            users = {
                getattr(message.from_.uri, "user", None),
                getattr(message.to.uri, "user", None),
            }
            here = [c for c in here if c.user in users] or here
        return here[0].id if here else None

    def _on_lab(self, event: LabEvent) -> None:
        self.emit("lab", event=event.kind, **event.data)

    # --- running --------------------------------------------------------------------------
    async def run(self) -> ScenarioResult:
        self._t0 = asyncio.get_running_loop().time()
        self.emit(
            "run_start",
            name=self.s.name,
            source=self.s.source,
            backend=self.backend,
            seed=self.seed,
            mode=self.s.mode,
        )
        budget = seconds(self.s.timeout, self.env)
        try:
            async with asyncio.timeout(budget):
                await self._run()
        except TimeoutError:
            self._error(f"the scenario ran past its timeout of {budget:.0f}s")
        except StepFailed:
            pass
        except LabError as exc:
            self._error(f"lab error: {exc}")
        except OSError as exc:  # a socket or process the lab could not have
            self._error(f"lab error: {exc}")
        finally:
            await asyncio.shield(self._teardown())
        for i, inv in enumerate(self.s.invariants):
            line = self.s.lines.get(f"invariants[{i}]", 0)
            self.result.expectations.append(check_invariant(inv, self.events, self.sessions, line))
        self.result.passed = not self.result.errors and all(
            e.passed for e in self.result.expectations
        )
        self.result.duration = self.now()
        self.emit("run_end", passed=self.result.passed, duration=self.result.duration)
        self.result.events = self.events
        return self.result

    def _error(self, message: str) -> None:
        self.result.errors.append(message)
        self.emit("error", message=message)

    async def _run(self) -> None:
        topo = self.s.topology
        config = LabConfig(
            sites=topo.sites,
            backend=self.backend,
            proxy=topo.proxy,
            password=topo.password,
            seed=self.seed,
            workdir=self.workdir,
        )
        # a fleet's simulated messages travel as objects: the parser is not under test there
        wire: Wire = "objects" if self.s.fleet is not None else "bytes"
        self.lab = SimLab(config, wire=wire) if self.sim else Lab(config)
        self.lab.listeners.append(self._on_lab)
        await self.lab.start()
        self.result.backend = self.lab.backend
        if self.s.fleet is not None:
            await run_fleet_drill(self, self.s.fleet)
            return
        await self._start_parties()
        if isinstance(self.lab, SimLab):
            cfg = self._endpoint_config().model_copy(
                update={"local_host": self.lab.host(), "local_port": 5060}
            )
            self.phone = AsyncPhone(
                cfg,
                sockets=functools.partial(SimSockets, self.lab.network),
                rng=random.Random(f"phone:{self.seed}"),
            )
        else:
            self.phone = AsyncPhone(self._endpoint_config())
        self.phone.subscribe(self._on_phone)
        self.phone.taps.append(self._on_wire)
        await self.phone.start()
        for index, step in enumerate(self.s.steps):
            line = self.s.step_lines[index] if index < len(self.s.step_lines) else 0
            started = self.emit(
                "step_start",
                index=index,
                id=step.id,
                action=step.action,
                line=line,
                note=step.note or "",
            )
            if step.action not in ("wait_for", "expect"):
                self.anchor = (len(self.events) - 1, started.t)
            await self._step(index, step, line)
            self.emit("step_end", index=index, id=step.id, action=step.action)

    def _endpoint_config(self) -> EndpointConfig:
        assert self.lab is not None
        spec = self.s.endpoint
        if spec.config:
            base = load(Path(self.s.source).parent / spec.config)
            conns = []
            for cfg in base.connections:
                site = cfg.server if cfg.server in self.lab.sites else None
                if site is None:
                    raise LabError(
                        f"endpoint config {spec.config}: server {cfg.server!r} is not a site"
                    )
                ip, port = self.lab.target(site)
                conns.append(
                    cfg.model_copy(
                        update={
                            "server": ip,
                            "port": port,
                            "domain": self.lab.site(site).spec.domain,
                        }
                    )
                )
            return base.model_copy(update={"connections": conns})
        conns = [
            self._connection_config(c, c.id if c.id is not None else i)
            for i, c in enumerate(spec.connections)
        ]
        return EndpointConfig(
            connections=conns,
            invite_timeout=spec.invite_timeout,
            failover=spec.failover,
            auto_answer=spec.auto_answer,
        )

    def _connection_config(self, c: ConnectionSpec, conn_id: int) -> ConnectionConfig:
        """A scenario's connection, pointed at its site's target (the fault proxy)."""
        assert self.lab is not None
        ip, port = self.lab.target(c.site)
        return ConnectionConfig(
            id=conn_id,
            user=c.user,
            server=ip,
            port=port,
            domain=self.lab.site(c.site).spec.domain,
            protocol=c.protocol or self.s.topology.transport,
            reg_interval=c.reg_interval,
            retry_interval=c.retry_interval,
            transaction_timeout=c.transaction_timeout,
            keepalive=c.keepalive,
            keepalive_interval=c.keepalive_interval,
            keepalive_timeout=c.keepalive_timeout,
            password=c.password,
            enabled=c.enabled,
        )

    async def _start_parties(self) -> None:
        assert self.lab is not None
        budget = seconds(self.s.timeout, self.env)
        for party in self.s.parties:
            sites = [party.site] if isinstance(party.site, str) else party.site
            if isinstance(self.lab, SimLab) or sipp_binary() is None:  # geolab's Python callee
                net: Net = self.lab.network if isinstance(self.lab, SimLab) else UdpNet()
                where = (
                    self.lab.host() if isinstance(self.lab, SimLab) else allocate_address(),
                    5060,
                )
                callee = SimCallee(net, where, party.user, party.calls, seed=self.seed)
                await callee.start()
                for site in sites:
                    await callee.register(self.lab.target(site), self.lab.site(site).spec.domain)
                self.parties.append(callee)
                self.emit(
                    "party", name=party.name, kind=party.kind, user=party.user, state="started"
                )
                continue
            uas, port = callee_process(
                self.lab.workdir / "parties",
                calls=party.calls,
                timeout=budget,
                ring_ms=party.ring_ms,
                name=party.name,
            )
            for site in [party.site] if isinstance(party.site, str) else party.site:
                await register_party(
                    self.lab.target(site),
                    self.lab.site(site).spec.domain,
                    party.user,
                    host=uas.host,
                    port=port,
                )
            await uas.start()
            self.parties.append(uas)
            self.emit("party", name=party.name, kind=party.kind, user=party.user, state="started")

    async def _teardown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for name, caller in self.callers:
            with contextlib.suppress(TimeoutError):
                result: SippResult | PartyResult = await asyncio.wait_for(caller.wait(), 35)
                self.emit("party", name=name, kind="caller", state="ended", ok=result.ok)
            await caller.stop()
        if self.phone is not None:
            with contextlib.suppress(Exception):
                await self.phone.close(unregister=True, grace=1.0)
        for party in self.parties:
            await party.stop()
        if self.lab is not None:
            await self.lab.stop()

    # --- steps ----------------------------------------------------------------------------
    async def _step(self, index: int, step: Step, line: int) -> None:
        assert self.lab is not None and self.phone is not None
        phone, lab = self.phone, self.lab
        action = step.action
        if action in ("wait_for", "expect"):
            await self._expect(index, step, line)
        elif action == "sleep":
            assert step.sleep is not None
            await asyncio.sleep(seconds(step.sleep, self.env))
        elif action == "fault":
            assert step.fault is not None
            f = step.fault
            params = dict(f.params)
            if f.via is not None:
                params["via"] = f.via
            record = await lab.apply(f.kind, f.site, **params)
            self.faults.setdefault(step.id or f"step{index}", []).append(record)
            if f.duration is not None:
                self._background(self._heal_later(record, seconds(f.duration, self.env)))
        elif action == "heal":
            for record in self._to_heal(step.heal):
                await lab.heal(record)
        elif action == "dial":
            assert step.dial is not None
            sid = phone.dial(step.dial.connection, step.dial.destination)
            if step.dial.as_:
                self.sessions[step.dial.as_] = sid
        elif action in ("answer", "hangup", "hold", "resume"):
            alias = str(getattr(step, action))
            sid = await self._session(alias)
            getattr(phone, action)(sid)
        elif action == "add_connection":
            assert step.add_connection is not None
            phone.add_connection(
                self._connection_config(step.add_connection, step.add_connection.id)
            )
        elif action in ("enable_connection", "disable_connection", "remove_connection"):
            getattr(phone, action)(int(getattr(step, action)))
        elif action == "call":
            assert step.call is not None
            call = step.call
            name = call.as_ or f"call{index}"
            caller: SippProcess | SimCaller
            if isinstance(lab, SimLab) or sipp_binary() is None:  # geolab's Python caller
                net = lab.network if isinstance(lab, SimLab) else UdpNet()
                where = (lab.host() if isinstance(lab, SimLab) else allocate_address(), 5060)
                caller = SimCaller(
                    net,
                    where,
                    lab.target(call.site),
                    call.to,
                    hold_ms=call.hold_ms,
                    auto_answer=call.auto_answer,
                    seed=index,
                )
            else:
                caller = caller_process(
                    lab.workdir / "parties",
                    lab.target(call.site),
                    call.to,
                    transport=call.transport,
                    hold_ms=call.hold_ms,
                    auto_answer=call.auto_answer,
                    timeout=30,
                    name=name,
                )
            await caller.start()
            self.callers.append((name, caller))
            if call.as_:
                self.pending_calls.append((call.as_, self.now()))
            self.emit(
                "party", name=name, kind="caller", site=call.site, to=call.to, state="started"
            )
        elif action == "nemesis":
            await self._nemesis(step)

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _heal_later(self, record: FaultRecord, delay: float) -> None:
        await asyncio.sleep(delay)
        assert self.lab is not None
        await self.lab.heal(record)

    def _to_heal(self, what: str | int | None) -> list[FaultRecord]:
        assert self.lab is not None
        active = [
            r
            for r in self.lab.journal
            if (r.healed_at is None and r.via != "process")
            or (r.healed_at is None and r.kind in ("kill", "hang", "stop"))
        ]
        if what in (None, "all"):
            return active
        if isinstance(what, str) and what in self.faults:
            return [r for r in self.faults[what] if r.healed_at is None]
        return [r for r in active if r.site == what]

    async def _session(self, alias: str, timeout: float = 10.0) -> str:
        async with asyncio.timeout(timeout):
            while alias not in self.sessions:
                self._arrived.clear()
                await self._arrived.wait()
        return self.sessions[alias]

    async def _expect(self, index: int, step: Step, line: int) -> None:
        match = step.wait_for or step.expect
        assert match is not None
        pos, start = self.anchor
        if step.after is not None:
            pos, start = self._step_mark(step.after, (pos, start))
        if step.after_event is not None:  # the first such event (since the after: step)
            since = self._step_mark(step.after, (0, 0.0))[0] if step.after is not None else 0
            anchor_event = await self._await_event(step.after_event, since, self.now() + 30.0)
            if anchor_event is None:
                what = f"{step.after_event.describe()} (to start the window from)"
                self.record(Expectation(index, line, what, False, "it never happened", self.now()))
                if step.wait_for is not None:
                    raise StepFailed(what)
                return
            pos, start = self.events.index(anchor_event), anchor_event.t
        within = seconds(step.within, self.env) if step.within is not None else 30.0
        deadline = start + within
        end: int | None = None
        expected = f"{match.describe()} within {within:.3f}s of {start:.3f}s"
        if step.before is not None:
            end, deadline = self._step_mark(step.before, (len(self.events), self.now()))
            pos, start = 0, 0.0
            expected = f"{match.describe()} before step {step.before!r} began ({deadline:.3f}s)"
        if step.absent:
            expected = f"no {expected}"
            found = await self._await_event(match, pos, deadline, end)
            if found is not None:
                exp = Expectation(index, line, expected, False, describe(found), found.t)
            else:
                exp = Expectation(index, line, expected, True, "none happened", self.now())
            self.record(exp)
            return
        if step.count is not None:
            expected = f"at least {step.count} of {expected}"
            seen = await self._await_count(match, pos, deadline, step.count)
            passed = len(seen) >= step.count
            observed = f"{len(seen)} at " + ", ".join(f"{e.t:.3f}s" for e in seen[:12])
            last = seen[-1].t if seen else self.now()
            self.record(Expectation(index, line, expected, passed, observed, last))
            if not passed and step.wait_for is not None:
                raise StepFailed(expected)
            return
        found = await self._await_event(match, pos, deadline, end)
        if found is not None:
            exp = Expectation(index, line, expected, True, describe(found), found.t)
        else:
            seen = [
                e
                for e in self.events[pos:end]
                if e.kind in ("endpoint", "lab", "sip") and e.data.get("event") == match.event
            ]
            observed = (
                ("nothing like it; saw " + "; ".join(describe(e) for e in seen[-3:]))
                if seen
                else f"no {match.event} event at all"
            )
            exp = Expectation(index, line, expected, False, observed, self.now())
        self.record(exp)
        if not exp.passed and step.wait_for is not None:
            raise StepFailed(expected)

    def _step_mark(self, step_id: str, default: tuple[int, float]) -> tuple[int, float]:
        marks = [
            (i, e.t)
            for i, e in enumerate(self.events)
            if e.kind == "step_start" and e.data.get("id") == step_id
        ]
        return marks[-1] if marks else default

    def record(self, exp: Expectation) -> None:
        self.result.expectations.append(exp)
        self.emit(
            "expectation",
            step=exp.step,
            line=exp.line,
            passed=exp.passed,
            expected=exp.expected,
            observed=exp.observed,
        )

    async def _await_event(
        self, match: EventMatch, pos: int, deadline: float, end: int | None = None
    ) -> RunEvent | None:
        """The first matching event from stream position ``pos`` (to ``end``), waiting for
        it until ``deadline``."""
        checked = pos
        while True:
            for event in self.events[checked:end]:
                if event.t <= deadline and matches(event, match, self.sessions):
                    return event
            checked = len(self.events)
            remaining = deadline - self.now()
            if end is not None or remaining <= 0:
                return None
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return None

    async def _await_count(
        self, match: EventMatch, pos: int, deadline: float, count: int
    ) -> list[RunEvent]:
        while True:
            seen = [
                e for e in self.events[pos:] if e.t <= deadline and matches(e, match, self.sessions)
            ]
            remaining = deadline - self.now()
            if len(seen) >= count or remaining <= 0:
                return seen
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                pass

    async def _nemesis(self, step: Step) -> None:
        """A seeded random fault schedule (Jepsen-style): every interval one fault on one
        site, healed half an interval later, until the duration is over."""
        assert step.nemesis is not None and self.lab is not None
        n = step.nemesis
        rng = random.Random(n.seed)
        sites = n.sites or list(self.lab.sites)
        end = self.now() + seconds(n.duration, self.env)
        interval = seconds(n.interval, self.env)
        while self.now() < end:
            kind, site = rng.choice(n.faults), rng.choice(sites)
            params: dict[str, Any] = {}
            if kind == "latency":
                params = {"latency": rng.randint(50, 500), "jitter": rng.randint(0, 50)}
            elif kind == "loss":
                params = {"percent": rng.randint(10, 60), "transport": "udp"}
            async with self.lab.fault(kind, site, **params):
                await asyncio.sleep(min(interval / 2, max(0.0, end - self.now())))
            await asyncio.sleep(min(interval / 2, max(0.0, end - self.now())))


async def run_scenario(scenario: Scenario, **kw: Any) -> ScenarioResult:
    return await ScenarioRunner(scenario, **kw).run()
