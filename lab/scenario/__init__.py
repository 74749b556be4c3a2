"""Scenario files: YAML drills loaded with line marks, validated (all errors at once) into
typed models; errors read ``file:line: path: message``."""

from lab.errors import ScenarioError
from lab.scenario.loader import load_all, load_scenario, validate_files
from lab.scenario.schema import Scenario

__all__ = ["Scenario", "ScenarioError", "load_all", "load_scenario", "validate_files"]
