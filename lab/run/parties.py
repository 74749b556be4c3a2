"""A drill's remote parties: callees registered on their sites before the steps, callers
started by ``call`` steps. SIPp where the lab can run it, else geolab's Python parties on
the lab's party network (the simulated one, or real UDP sockets)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from lab.labs.interface import LabInterface
from lab.parties.python import PartyResult, PythonCallee, PythonCaller
from lab.parties.register import register_party
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

    async def start_callees(self, parties: list[PartySpec], budget: float) -> None:
        lab = self.lab
        for party in parties:
            sites = [party.site] if isinstance(party.site, str) else party.site
            if not lab.sipp_parties:  # geolab's Python callee
                callee = PythonCallee(lab.party_network(), lab.party_address(), party.user,
                                   party.calls, seed=self.seed)  # fmt: skip
                await callee.start()
                for site in sites:
                    await callee.register(lab.target(site), lab.site(site).spec.domain)
                self.callees.append(callee)
            else:
                uas, port = callee_process(
                    lab.workdir / "parties", calls=party.calls, timeout=budget,
                    ring_ms=party.ring_ms, name=party.name,
                )  # fmt: skip
                for site in sites:
                    await register_party(lab.target(site), lab.site(site).spec.domain,
                                         party.user, host=uas.host, port=port)  # fmt: skip
                await uas.start()
                self.callees.append(uas)
            self.emit(PartyChanged(t=self.now(), name=party.name, kind=party.kind,
                                   user=party.user, state="started"))  # fmt: skip

    async def start_caller(self, call: CallSpec, name: str, index: int) -> None:
        lab = self.lab
        caller: SippProcess | PythonCaller
        if not lab.sipp_parties:  # geolab's Python caller
            caller = PythonCaller(
                lab.party_network(), lab.party_address(), lab.target(call.site), call.to,
                hold_ms=call.hold_ms, auto_answer=call.auto_answer, seed=index,
            )  # fmt: skip
        else:
            caller = caller_process(
                lab.workdir / "parties", lab.target(call.site), call.to,
                transport=call.transport, hold_ms=call.hold_ms, auto_answer=call.auto_answer,
                timeout=30, name=name,
            )  # fmt: skip
        await caller.start()
        self.callers.append((name, caller))

    async def stop_callers(self, *, grace: float = CALLER_WAIT) -> None:
        """Each caller's result (waiting up to ``grace`` s for it), then stop it."""
        for name, caller in self.callers:
            if grace > 0:
                with contextlib.suppress(TimeoutError):
                    result: SippResult | PartyResult = await asyncio.wait_for(caller.wait(), grace)
                    self.emit(PartyChanged(t=self.now(), name=name, kind="caller", state="ended",
                                           ok=result.ok))  # fmt: skip
            await caller.stop()

    async def stop_callees(self) -> None:
        for party in self.callees:
            await party.stop()
