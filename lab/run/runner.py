"""Runs one drill on a lab: sites, the endpoint (in-process), remote parties, its steps
(each by its handler, :mod:`lab.steps`) and checks, all told on one typed stream."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from endpoint.config import SECURE, ConfigError, ConnectionConfig, EndpointConfig
from endpoint.core.events import PhoneEvent, SessionStatusChanged
from endpoint.sip.errors import LocalProtocolError
from endpoint.sip.events import Address
from endpoint.sip.message import Message
from lab.drill.needs import not_applicable, transports_of
from lab.drill.schema import Scenario
from lab.drivers import DriverContext, EndpointDriver, make_driver
from lab.drivers.control import EndpointControl, observed, observed_on_wire
from lab.errors import LabError, StepFailed
from lab.faults.pcap import write_pcap
from lab.faults.watch import WireObservation
from lab.labs.interface import FaultRecord, LabConfig, LabInterface
from lab.run.checks import check_invariant
from lab.run.factory import make_lab
from lab.run.fleetdrill import run_fleet_drill
from lab.run.parties import CALLER_WAIT, Parties
from lab.run.placing import placed_config
from lab.run.windows import Windows
from lab.run.wirechecks import wire_checks
from lab.scenario.expr import seconds
from lab.scenario.models import CallSpec, ConnectionSpec, Duration
from lab.steps import Place, handler_of
from lab.steps.waits import Expect, WaitFor
from lab.stream.events import (
    ConnectionPlaced,
    EndpointEvent,
    Event,
    LabEvent,
    PartyChanged,
    RunErrored,
    RunFinished,
    RunNotApplicable,
    RunStarted,
    SiteUp,
    StepFinished,
    StepStarted,
)
from lab.stream.results import Expectation, ScenarioResult

Listener = Callable[[Event], None]
WAITS = ("wait_for", "expect")


class ScenarioRunner:
    """One drill, start to end. Steps' handlers see it as a :class:`lab.steps.StepRun`;
    the fleet drill as a :class:`lab.run.fleetdrill.DrillHost`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        backend: str | None = None,
        seed: int = 0,
        workdir: Path | None = None,
        listeners: list[Listener] | None = None,
        driver: str | None = None,
        endpoint_command: list[str] | None = None,
        capture: Path | None = None,
        endpoint_page: Path | None = None,
    ) -> None:
        self.s = scenario
        self.backend = backend or scenario.topology.backend
        self.driver_name = driver or scenario.endpoint.driver
        self.endpoint_command = endpoint_command or scenario.endpoint.command
        own = scenario.endpoint.page  # relative to the drill's file
        self.endpoint_page = endpoint_page or (Path(scenario.source).parent / own if own else None)
        self.capture = capture  # where the drill's pcap goes (what the fault proxy saw)
        self.wire_record: list[WireObservation] = []
        self.seed = seed
        self.workdir = workdir
        self.listeners = listeners or []
        self.events: list[Event] = []
        self.sessions: dict[str, str] = {}  # alias -> session id
        self.pending_calls: list[str] = []  # inbound aliases awaiting a session
        self.faults: dict[str, list[FaultRecord]] = {}  # step id -> faults
        self.tasks: set[asyncio.Task[None]] = set()
        self.env = scenario.env()
        self.windows = Windows(self.events, self.sessions, self.env, self.now, self.record)
        self._t0 = 0.0
        self._lab: LabInterface | None = None
        self._parties: Parties | None = None
        self.driver: EndpointDriver | None = None
        self._conns: dict[int, ConnectionConfig] = {}
        self._reach: dict[int, set[tuple[str, int]]] = {}  # named connections' possible sites
        self._interrupted = False
        self._failed: asyncio.Future[str] | None = None  # the endpoint itself failed

    # --- the stream -----------------------------------------------------------------------
    @property
    def t0(self) -> float:
        """The loop time the run started at: event times count from here."""
        return self._t0

    def now(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    def emit(self, event: Event) -> Event:
        event = event.retimed(event.t)
        self.events.append(event)
        for listener in self.listeners:
            listener(event)
        self.windows.arrived()
        return event

    def record(self, exp: Expectation) -> None:
        """An expectation checked: with the rules its step cites, if it has any."""
        step = self.s.steps[exp.step] if exp.step is not None and exp.step < len(self.s.steps) \
            else None  # fmt: skip
        cited = getattr(step, "references", None)
        if cited and not exp.references:
            exp = dataclasses.replace(exp, references=tuple(cited))
        self.emit(exp.event(self.now()))

    def _on_phone(self, event: PhoneEvent) -> None:
        # a black box's events carry its own time (the system's monotonic clock, as ours):
        # they may arrive after the wire's record of what they caused
        black_box = self.driver is not None and not self.driver.capabilities.wire_tap
        t = event.t - self._t0 if black_box else self.now()
        self.emit(EndpointEvent(t=t, event=event))
        if (
            isinstance(event, SessionStatusChanged)
            and event.direction == "inbound"
            and event.status == "Ringing"
            and self.pending_calls
        ):
            self.sessions[self.pending_calls.pop(0)] = event.session

    def _on_wire(
        self, direction: str, message: Message, peer: Address, transport: str, conn: int | None
    ) -> None:
        """Every SIP message the endpoint sends or receives (its own tap, in-process)."""
        site = next((n for n in self.lab.sites if self.lab.target(n, transport) == peer), None)
        self.emit(observed(self.now(), direction, message, transport, conn, site=site))

    def _on_observed(self, seen: WireObservation) -> None:
        """A SIP message the fault proxy saw between the endpoint and a site (stamped as
        it arrives here); the remote parties' own traffic is not the endpoint's: whatever
        address the endpoint's connections come from (a TCP client's is the kernel's
        choice), the parties' are known."""
        if self._parties is None or seen.client[0] in self._parties.hosts:
            return  # a remote party's own traffic (or the parties are not up yet)
        event = observed_on_wire(seen.t - self._t0, seen, self._conns.values(), self._reach)
        if event is not None:
            self.emit(event)

    def _on_failure(self, message: str) -> None:
        """The endpoint under test failed by itself (exited, wrote garbage): the drill
        stops with that as its lab error."""
        if self._failed is not None and not self._failed.done():
            self._failed.set_result(message)

    def _on_lab(self, event: LabEvent) -> None:
        self.emit(event.retimed(event.t - self._t0))  # the lab's clock is the loop's
        if isinstance(event, SiteUp) and self._parties is not None:
            self.background(self._parties.site_up(event.site))  # its parties register again

    # --- what step handlers use -----------------------------------------------------------
    @property
    def lab(self) -> LabInterface:
        if self._lab is None:
            raise LabError("the lab is not started")
        return self._lab

    @property
    def endpoint(self) -> EndpointControl:
        if self.driver is None:
            raise LabError("the endpoint is not started")
        return self.driver

    def seconds(self, bound: Duration) -> float:
        return seconds(bound, self.env)

    def background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def session(self, alias: str, place: Place) -> str:
        return await self.windows.session(alias, place.index, place.line)

    async def expect(self, step: WaitFor | Expect, place: Place) -> None:
        await self.windows.expect(step, place.index, place.line)

    async def start_caller(self, call: CallSpec, place: Place) -> None:
        assert self._parties is not None
        name = call.as_ or f"call{place.index}"
        if call.as_:  # before the caller starts: its call may ring before start_caller returns
            self.pending_calls.append(call.as_)
        await self._parties.start_caller(call, name, place.index)
        self.emit(PartyChanged(t=self.now(), name=name, kind="caller", site=call.site,
                               to=call.to, state="started"))  # fmt: skip

    def connection_config(self, c: ConnectionSpec, conn_id: int) -> ConnectionConfig:
        """A scenario's connection, pointed at its site's target (the fault proxy); over
        TLS, told to trust the lab's CA."""
        protocol = c.protocol or self.s.topology.transport
        ip, port = self.lab.target(c.site, protocol)
        tls = protocol in SECURE
        settings = c.model_copy(update={"protocol": protocol, "sips": c.sips and tls})
        config = ConnectionConfig.at(
            settings, id=conn_id, user=c.user, server=c.name or ip, port=port,
            domain=None if c.name else self.lab.site(c.site).spec.domain,
            tls_ca=self.lab.tls_ca() if tls else None,
        )  # fmt: skip
        self._conns[conn_id] = config  # whose messages the wire's record tells apart
        if c.name:  # a name may lead to any site
            self._reach[conn_id] = {self.lab.target(n, protocol) for n in self.lab.sites}
        self.emit(ConnectionPlaced(t=self.now(), connection=conn_id, site=c.site))
        return config

    # --- running --------------------------------------------------------------------------
    async def run(self) -> ScenarioResult:
        self._t0 = asyncio.get_running_loop().time()
        s = self.s
        self.emit(RunStarted(t=self.now(), name=s.name, source=s.source, backend=self.backend,
                             seed=self.seed, mode=s.mode, driver=self.driver_name,
                             references=tuple(s.references), digest=s.digest))  # fmt: skip
        lacking = not_applicable(s, self.driver_name)
        if lacking:  # not run: its verdict is N/A, with why
            self.emit(RunNotApplicable(t=self.now(), reasons=tuple(lacking)))
            self.emit(RunFinished(t=self.now(), passed=False, duration=0.0))
            return ScenarioResult.of(self.events)
        budget = seconds(s.timeout, self.env)
        try:
            async with asyncio.timeout(budget):
                await self._run()
        except TimeoutError:
            self._error(f"the scenario ran past its timeout of {budget:.0f}s")
        except StepFailed:
            pass
        except (LabError, OSError) as exc:  # OSError: a socket or process the lab lacked
            self._error(f"lab error: {exc}")
        except asyncio.CancelledError:
            self._interrupted = True  # Ctrl-C, SIGTERM: stop everything now, then go
            raise
        finally:
            await self._teardown_whatever_comes()
        for i, inv in enumerate(s.invariants):
            line = s.lines.get(f"invariants[{i}]", 0)
            verdict = check_invariant(inv, self.events, self.sessions, line, self._conns)
            self.record(dataclasses.replace(verdict, references=tuple(inv.references)))
        if self.driver is not None and (self.driver.capabilities.wire_tap or s.topology.proxy):
            # the endpoint's word against the wire, for every driver (lab.run.wirechecks)
            tap = self.driver.capabilities.wire_tap
            for exp in wire_checks(self.events, self._conns, tap=tap):
                self.record(exp)
        result = ScenarioResult.of(self.events)
        passed = not result.errors and all(e.passed for e in result.expectations)
        self.emit(RunFinished(t=self.now(), passed=passed, duration=self.now()))
        return ScenarioResult.of(self.events)

    def _error(self, message: str) -> None:
        self.emit(RunErrored(t=self.now(), message=message))

    async def _run(self) -> None:
        topo = self.s.topology
        config = LabConfig(
            sites=topo.sites, backend=self.backend, proxy=topo.proxy, password=topo.password,
            seed=self.seed, workdir=self.workdir, certificates=dict(topo.certificates),
            transports=transports_of(self.s), dns=topo.dns,
        )  # fmt: skip
        # a fleet's simulated messages travel as objects: the parser is not under test there
        lab = make_lab(config, self.s.mode, wire="objects" if self.s.fleet else "bytes")
        self._lab = lab
        lab.listeners.append(self._on_lab)
        lab.wire_observers.append(self.wire_record.append)
        await lab.start()
        if self.s.fleet is not None:
            await run_fleet_drill(self, self.s, self.s.fleet)
            return
        self._parties = Parties(lab, self.seed, self.emit, self.now)
        await self._parties.start_callees(self.s.parties, seconds(self.s.timeout, self.env))
        cfg = self._endpoint_config()
        where = lab.endpoint_address()
        if where is not None:
            cfg = cfg.model_copy(update={"local_host": where[0], "local_port": where[1]})
        self._failed = asyncio.get_running_loop().create_future()
        driver = make_driver(self.driver_name, self.endpoint_command)
        if self.endpoint_page is not None and not driver.capabilities.pages:
            raise LabError(f"driver {self.driver_name} loads no page: {self.endpoint_page}")
        self._conns = {c.id: c for c in cfg.connections}
        if not driver.capabilities.wire_tap:  # a black box: the lab's record of the wire
            lab.wire_observers.append(self._on_observed)
        ctx = DriverContext(
            workdir=lab.workdir, on_event=self._on_phone, on_failure=self._on_failure,
            on_wire=self._on_wire if driver.capabilities.wire_tap else None,
            sockets=lab.endpoint_sockets(),
            rng_seed=lab.replay_seed("phone"), page=self.endpoint_page,
        )  # fmt: skip
        self.driver = driver
        # windows before any action step look from the endpoint's start on, their time from
        # when it is up: a process's start-up (slower under load) is not what a drill grades
        position = len(self.events)
        await driver.start(cfg, ctx)
        self.windows.anchor = (position, self.now())
        steps = asyncio.ensure_future(self._steps())
        racing: list[asyncio.Future[Any]] = [steps, self._failed]
        await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
        if self._failed.done() and not steps.done():
            steps.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await steps
        if steps.done() and not steps.cancelled():
            steps.result()  # what the steps raised (StepFailed, LabError …)
        if self._failed.done():
            raise LabError(self._failed.result())

    async def _steps(self) -> None:
        for index, step in enumerate(self.s.steps):
            line = self.s.step_lines[index] if index < len(self.s.step_lines) else 0
            self.emit(StepStarted(t=self.now(), index=index, id=step.id, action=step.action,
                                  line=line, note=step.note or ""))  # fmt: skip
            if step.action not in WAITS:
                self.windows.mark()
            try:
                await handler_of(step)(self, step, Place(index, line))
            except (LocalProtocolError, ConfigError, LookupError, ValueError) as exc:
                raise LabError(
                    f"step {index + 1} ({step.action}, line {line}): the endpoint refused: {exc}"
                ) from exc
            self.emit(StepFinished(t=self.now(), index=index, id=step.id, action=step.action))

    def _endpoint_config(self) -> EndpointConfig:
        spec = self.s.endpoint
        if spec.config:
            return placed_config(Path(self.s.source).parent / spec.config, spec.config,
                                 self.lab, lambda i, site: self.emit(ConnectionPlaced(
                                     t=self.now(), connection=i, site=site)))  # fmt: skip
        conns = [
            self.connection_config(c, c.id if c.id is not None else i)
            for i, c in enumerate(spec.connections)
        ]
        return EndpointConfig(connections=conns, dns_server=self.lab.dns_server(),
                              **spec.model_dump(include={"invite_timeout", "session_expires",
                                                         "failover", "auto_answer"}))  # fmt: skip

    async def _teardown_whatever_comes(self) -> None:
        """The teardown as a task of its own that no cancellation reaches: a Ctrl-C or
        SIGTERM landing while the drill is being torn down only hurries it (callers get no
        more grace), the lab is stopped all the same, and then the cancellation goes on."""
        teardown = asyncio.ensure_future(self._teardown())
        cancelled = False
        while not teardown.done():
            try:
                await asyncio.shield(teardown)
            except asyncio.CancelledError:
                if teardown.done() and teardown.cancelled():
                    raise
                cancelled = True
                self._interrupted = True
                if self._parties is not None:
                    self._parties.hurry()
        teardown.result()
        if cancelled:
            raise asyncio.CancelledError

    async def _teardown(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        try:
            if self._parties is not None:
                await self._parties.stop_callers(grace=0 if self._interrupted else CALLER_WAIT)
            if self.driver is not None:
                problem = await self.driver.stop()
                if problem is not None:
                    self._error(f"lab error: {problem}")
            if self._parties is not None:
                await self._parties.stop_callees()
        finally:  # whatever went wrong above, the sites and faults go
            if self._lab is not None:
                await self._lab.stop()
        if self.capture is not None and self.wire_record:
            with contextlib.suppress(OSError):
                self.capture.parent.mkdir(parents=True, exist_ok=True)
                write_pcap(self.capture, self.wire_record)


async def run_scenario(scenario: Scenario, **kw: Any) -> ScenarioResult:
    return await ScenarioRunner(scenario, **kw).run()
