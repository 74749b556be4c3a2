"""Whole drills: a scenario file loaded with line marks (``loader.py``), checked as a whole
into a typed drill (``schema.py``: its steps, invariants, fleet, endpoint and topology,
with their cross-field checks), and what it needs of the endpoint's driver, else "not
applicable" (``needs.py``). Errors read ``file:line: path: message``."""

from lab.drill.loader import load_all, load_scenario, validate_files
from lab.drill.schema import Scenario
from lab.errors import ScenarioError

__all__ = ["Scenario", "ScenarioError", "load_all", "load_scenario", "validate_files"]
