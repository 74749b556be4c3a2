"""The JSON timeline: everything a run saw, enough to re-render every other report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lab.run.events import ScenarioResult


def write_timeline(path: Path, meta: dict[str, Any], results: list[ScenarioResult]) -> None:
    data = {"run": meta, "scenarios": [r.to_json() for r in results]}
    path.write_text(json.dumps(data, indent=1, default=str))


def read_timeline(path: Path) -> tuple[dict[str, Any], list[ScenarioResult]]:
    data = json.loads(path.read_text())
    return data["run"], [ScenarioResult.from_json(s) for s in data["scenarios"]]
