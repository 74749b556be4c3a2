"""A third-party endpoint's grade on the drill library, held against the grade pinned for it
in ``data/<driver>-outcomes.yaml`` (reviewed by hand: each drill's verdict, the lines of the
expectations it fails, and why)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from lab.cli.main import main
from lab.system.procs import processes_mentioning

ROOT = Path(__file__).parents[2]
DATA = Path(__file__).parent / "data"


def graded(driver: str, out: Path) -> tuple[int, Path, dict[str, dict[str, Any]]]:
    """The library run with ``driver`` on Kamailio: exit code, report folder, and each
    drill's verdict and failed lines by the drill file's stem."""
    code = main(["run", str(ROOT / "scenarios"), "--driver", driver, "--backend", "kamailio",
                 "--workers", "6", "-q", "--report-dir", str(out)])  # fmt: skip
    (folder,) = out.iterdir()
    timeline = json.loads((folder / "timeline.json").read_text())
    got: dict[str, dict[str, Any]] = {}
    for drill in timeline["scenarios"]:
        assert drill["driver"] == driver and not drill["errors"], drill["errors"]
        verdict = "N/A" if drill.get("not_applicable") else "PASS" if drill["passed"] else "FAIL"
        failed = [e["line"] for e in drill["expectations"] if not e["passed"]]
        got[Path(drill["source"]).stem] = {"verdict": verdict, **({"failed": failed} if failed
                                                                   else {})}  # fmt: skip
    return code, folder, got


def pinned(driver: str) -> dict[str, dict[str, Any]]:
    entries = yaml.safe_load((DATA / f"{driver}-outcomes.yaml").read_text())
    assert all(e["verdict"] == "N/A" or e.get("why") for e in entries.values()), \
        "every verdict but N/A says why"  # fmt: skip
    return {name: {k: v for k, v in entry.items() if k in ("verdict", "failed")}
            for name, entry in entries.items()}  # fmt: skip


def assert_reports_agree(folder: Path, want: dict[str, dict[str, Any]], out: Path) -> None:
    """Not applicable is skipped in JUnit, with why; never a pass, never a failure; the
    summary counts it apart; and nothing the run started is left."""
    suite = ET.parse(folder / "junit.xml").getroot()
    lacking = [n for n, e in want.items() if e["verdict"] == "N/A"]
    assert suite.get("skipped") == str(len(lacking))
    assert suite.get("failures") == str(sum(e["verdict"] == "FAIL" for e in want.values()))
    skipped = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert len(skipped) == len(lacking)
    assert all("not applicable: " in (c.find("skipped").get("message") or "")  # type: ignore[union-attr]
               for c in skipped)  # fmt: skip
    summary = (folder / "summary.md").read_text()
    passes = sum(e["verdict"] == "PASS" for e in want.values())
    assert f"{passes}/{len(want) - len(lacking)} passed, {len(lacking)} not applicable" in summary
    assert processes_mentioning(str(out)) == []


def assert_grade_is_pinned(driver: str, out: Path) -> Path:
    """The library run with ``driver`` fails some drills (exit 1) and grades it exactly as
    pinned, its reports agreeing; the report folder."""
    code, folder, got = graded(driver, out)
    assert code == 1
    want = pinned(driver)
    assert got == want
    assert_reports_agree(folder, want, out)
    return folder
