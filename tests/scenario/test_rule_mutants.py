"""Each rule drill fails the phone that breaks its rule, in virtual time: the phone's own
core told what to get wrong (``EndpointConfig.mutant``), the drill's expectations that
fail it named by line. (The honest phone passes every drill both ways:
tests/scenario/test_library.py; ``geolab bench mutants`` runs the whole matrix through
the process driver.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from endpoint.config import EndpointConfig
from lab.drill import load_scenario
from lab.run.runner import ScenarioRunner, run_scenario
from lab.sim.loop import run as sim_run

LIBRARY = Path(__file__).parents[2] / "scenarios"


# mutant → (drill, what its failure says)
RULES = {
    "answered_408_is_timeout": ("site-answers-408", "never: ConnectionStatusChanged"),
    "ignores_pong": ("pong-timeout-tcp", "ConnectionStatusChanged connection=0 status=Unav"),
    "lockstep": ("flow-recovery-backoff", "RFC 5626 §4.5"),
    "no_retransmissions": ("silent-site-retransmissions", "at least 10 of sip"),
    "keeps_dead_calls": ("session-timer-ends-call", "status=Disconnected"),
    "ignores_423": ("interval-too-brief", "status=200"),
    "ignores_retry_after": ("retry-after", "no sip connection=0 dir=out method=REGISTER"),
    "stays_on_first_target": ("srv-next-target", "method=REGISTER site=b within 2.500s"),
    "ignores_ttl": ("dns-flip", "status=Available"),
}


@pytest.mark.parametrize("mutant", sorted(RULES))
def test_the_rule_drill_fails_the_mutant_that_breaks_its_rule(
    mutant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drill, says = RULES[mutant]
    plain = ScenarioRunner._endpoint_config

    def broken(self: ScenarioRunner) -> EndpointConfig:
        return plain(self).model_copy(update={"mutant": mutant})

    monkeypatch.setattr(ScenarioRunner, "_endpoint_config", broken)
    scenario = load_scenario(LIBRARY / f"{drill}.yaml")
    scenario.mode = "sim"
    result = sim_run(run_scenario(scenario, seed=1))
    assert not result.passed and not result.errors, result.errors
    failed = [f"line {e.line}: {e.expected}" for e in result.failures]
    assert any(says in text for text in failed), failed
