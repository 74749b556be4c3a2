"""Verdicts grouped by the rule they grade (a drill's ``references`` and its waits' and
invariants'): per rule and endpoint, how many drills or expectations held it, how many
broke it, and which. What a CI pipeline reads to know *which rule* a failure broke."""

from __future__ import annotations

from dataclasses import dataclass, field

from lab.stream.results import ScenarioResult


@dataclass
class RuleGrade:
    rule: str
    driver: str
    held: list[str] = field(default_factory=list)  # drills (or their lines) that held it
    broke: list[str] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.broke:
            return "FAIL"
        return "PASS" if self.held else "N/A"


def rules_graded(results: list[ScenarioResult]) -> list[RuleGrade]:
    """One grade per rule cited and endpoint, in the order the rules are first cited."""
    grades: dict[tuple[str, str], RuleGrade] = {}

    def grade(rule: str, driver: str) -> RuleGrade:
        return grades.setdefault((rule, driver), RuleGrade(rule, driver))

    for r in results:
        name = r.name
        for rule in r.references:
            g = grade(rule, r.driver)
            (g.not_applicable if r.not_applicable else g.held if r.passed else g.broke).append(name)
        for e in r.expectations:
            for rule in e.references:
                if rule in r.references:
                    continue  # graded with the drill
                where = f"{name} (line {e.line})"
                (grade(rule, r.driver).held if e.passed else grade(rule, r.driver).broke).append(
                    where
                )
    return list(grades.values())
