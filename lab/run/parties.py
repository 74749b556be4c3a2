"""A drill's remote parties: callees registered on their sites before the steps, callers
started by ``call`` steps. SIPp where the lab can run it, else geolab's Python parties on
the lab's party network (the simulated one, or real UDP sockets)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from lab.errors import LabError
from lab.labs.interface import LabInterface
from lab.parties.python import PartyResult, PythonCallee, PythonCaller
from lab.parties.relay import RegisteringRelay
from lab.parties.sipp import SippProcess, SippResult, callee_process, caller_process
from lab.scenario.models import CallSpec, PartySpec
from lab.stream.events import Event, PartyChanged

CALLER_WAIT = 5.0  # s a caller may take to finish its call when the drill ends


class Parties:
    def __init__(
        self, lab: LabInterface, seed: int, emit: Callable[[Event], Event],
        now: Callable[[], float],
    ) -> None:  # fmt: skip
        self.lab = lab
        self.seed = seed
        self.emit = emit
        self.now = now
        self.callees: list[SippProcess | PythonCallee] = []
        self.callers: list[tuple[str, SippProcess | PythonCaller]] = []
        self.relays: list[RegisteringRelay] = []
        # (party, site, register again): what a returning site or a refresh redoes
        self.registrations: list[tuple[PartySpec, str, Callable[[bool], Awaitable[None]]]] = []
        self.refreshing: list[asyncio.Task[None]] = []
        self._hurried = asyncio.Event()
        # the addresses the parties send from: their own traffic through the site proxies
        # is not the endpoint's (whatever address the endpoint's connections come from)
        self.hosts: set[str] = set()

    async def start_callees(self, parties: list[PartySpec], budget: float) -> None:
        lab = self.lab
        for party in parties:
            sites = [party.site] if isinstance(party.site, str) else party.site
            if not lab.sipp_parties:  # geolab's Python callee
                where = lab.party_address()
                self.hosts.add(where[0])
                callee = PythonCallee(lab.party_network(), where, party.user, party.calls,
                                      seed=self.seed)  # fmt: skip
                await callee.start()
                for site in sites:
                    await self._keep(party, site, self._python(callee, site))
                self.callees.append(callee)
            else:  # SIPp behind a relay that registers for it (lab.parties.relay)
                uas, port = callee_process(
                    lab.workdir / "parties", calls=party.calls, timeout=budget,
                    ring_ms=party.ring_ms, name=party.name,
                )  # fmt: skip
                relay_host = lab.party_address()[0]
                self.hosts |= {relay_host, uas.host}
                relay = RegisteringRelay(relay_host, party.user, (uas.host, port))
                self.relays.append(await relay.start())
                for site in sites:
                    await self._keep(party, site, self._relayed(relay, party, site))
                await uas.start()
                await uas.bound(port)  # a first INVITE over TCP is never sent again
                self.callees.append(uas)
            self.emit(PartyChanged(t=self.now(), name=party.name, kind=party.kind,
                                   user=party.user, state="started"))  # fmt: skip

    def _python(self, callee: PythonCallee, site: str) -> Callable[[bool], Awaitable[None]]:
        async def again(first: bool) -> None:
            await callee.register(self.lab.target(site), self.lab.site(site).spec.domain)

        return again

    def _relayed(
        self, relay: RegisteringRelay, party: PartySpec, site: str
    ) -> Callable[[bool], Awaitable[None]]:
        async def again(first: bool) -> None:
            status = await relay.register(self.lab.target(site), self.lab.site(site).spec.domain)
            if status != 200 and first:  # at the start it must register; later it may not
                raise LabError(f"registering party {party.name} ({party.user}) at site {site} "
                               f"got {status or 'no answer'}")  # fmt: skip

        return again

    async def _keep(
        self, party: PartySpec, site: str, again: Callable[[bool], Awaitable[None]]
    ) -> None:
        """Register now; as a phone, refresh every ``reg_interval`` and again when the
        site comes back (unless the drill wants the party to stay away)."""
        await again(True)
        if not party.reregister:
            return
        self.registrations.append((party, site, again))

        async def refresh() -> None:
            while True:
                await asyncio.sleep(float(party.reg_interval))  # the party's own interval
                with contextlib.suppress(LabError, OSError):
                    await again(False)

        self.refreshing.append(asyncio.ensure_future(refresh()))

    async def site_up(self, site: str) -> None:
        """A site came back: its parties register there again (it forgot them)."""
        for party, where, again in list(self.registrations):
            if where == site:
                with contextlib.suppress(LabError, OSError):
                    await again(False)
                self.emit(PartyChanged(t=self.now(), name=party.name, kind=party.kind,
                                       user=party.user, site=site, state="registered"))  # fmt: skip

    async def start_caller(self, call: CallSpec, name: str, index: int) -> None:
        lab = self.lab
        caller: SippProcess | PythonCaller
        if not lab.sipp_parties:  # geolab's Python caller
            where = lab.party_address()
            self.hosts.add(where[0])
            caller = PythonCaller(
                lab.party_network(), where, lab.target(call.site), call.to,
                hold_ms=call.hold_ms, auto_answer=call.auto_answer, seed=index,
                to_host=lab.site(call.site).spec.domain,
            )  # fmt: skip
        else:
            caller = caller_process(
                lab.workdir / "parties", lab.target(call.site), call.to,
                transport=call.transport, hold_ms=call.hold_ms, auto_answer=call.auto_answer,
                timeout=30, name=name, to_host=lab.site(call.site).spec.domain,
            )  # fmt: skip
            self.hosts.add(caller.host)
        await caller.start()
        self.callers.append((name, caller))

    def hurry(self) -> None:
        """The drill was cancelled while its callers were given their grace: no more."""
        self._hurried.set()

    async def stop_callers(self, *, grace: float = CALLER_WAIT) -> None:
        """Each caller's result (waiting up to ``grace`` s for it, unless hurried), then
        stop it."""
        for name, caller in self.callers:
            if grace > 0 and not self._hurried.is_set():
                result = await self._result_within(caller, grace)
                if result is not None:
                    self.emit(PartyChanged(t=self.now(), name=name, kind="caller", state="ended",
                                           ok=result.ok))  # fmt: skip
            await caller.stop()

    async def _result_within(
        self, caller: SippProcess | PythonCaller, grace: float
    ) -> SippResult | PartyResult | None:
        """The caller's result, or None when ``grace`` ran out or the drill was hurried."""
        waiting: asyncio.Future[SippResult | PartyResult] = asyncio.ensure_future(caller.wait())
        hurried = asyncio.ensure_future(self._hurried.wait())
        try:
            await asyncio.wait((waiting, hurried), timeout=grace,
                               return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
        finally:
            hurried.cancel()
            if not waiting.done():
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiting
        if waiting.cancelled():
            return None
        return waiting.result()  # (or what it raised)

    async def stop_callees(self) -> None:
        for task in self.refreshing:
            task.cancel()
        for party in self.callees:
            await party.stop()
        for relay in self.relays:
            await relay.stop()
