"""Verdicts grouped by the rule they grade: a drill's rules take its verdict, an
expectation's its own; reports say per rule and endpoint which held and which broke."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lab.report.junit import render_junit
from lab.report.markdown import render_markdown
from lab.report.rules import rules_graded
from lab.scenario.references import problem, seed_sentence
from lab.stream.results import Expectation, ScenarioResult

RETRY = "seed: continually attempts to register until … explicitly removed"
TIMER_F = "RFC 3261 §17.1.2.2"


def result(name: str, driver: str, passed: bool, exp_passed: bool) -> ScenarioResult:
    r = ScenarioResult(name, f"{name}.yaml", "embedded", "real", 0, passed=passed, driver=driver,
                       references=(RETRY,))  # fmt: skip
    r.expectations = [Expectation(2, 12, "Unavailable (408) within 2s", exp_passed, "…", 1.0,
                                  (TIMER_F,))]  # fmt: skip
    return r


def test_a_seed_quote_names_its_sentence_and_a_rule_nobody_wrote_is_refused() -> None:
    assert seed_sentence(RETRY.removeprefix("seed:")) is not None
    assert seed_sentence("continually attempts … removed … register") is None  # out of order
    assert problem(TIMER_F) is None and problem("RFC 3261 17.1") is not None
    assert problem("seed: the phone is fast") is not None


def test_grades_by_rule_and_endpoint() -> None:
    results = [result("hung", "inprocess", True, True), result("hung", "baresip", False, False),
               result("killed", "baresip", True, True)]  # fmt: skip
    grades = {(g.rule, g.driver): g for g in rules_graded(results)}
    assert grades[(RETRY, "inprocess")].verdict == "PASS"
    assert grades[(RETRY, "baresip")].broke == ["hung"]
    assert grades[(RETRY, "baresip")].held == ["killed"]
    assert grades[(TIMER_F, "baresip")].broke == ["hung (line 12)"]
    text = render_markdown({"id": "r1"}, results)
    assert "### rules graded" in text
    assert f"| {TIMER_F} | baresip | FAIL | 1 | 1 | hung (line 12) |" in text
    root = ET.fromstring(render_junit({"id": "r1"}, results))
    props = [p.get("value") for p in root.iter("property") if p.get("name") == "reference"]
    assert f"{RETRY}: FAIL" in props and f"{TIMER_F}: PASS" in props
