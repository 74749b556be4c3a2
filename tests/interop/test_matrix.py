"""Several drivers at once: every drill on every endpoint, one report with drills by
endpoint (Markdown and HTML), one JUnit testsuite per driver, a pcap per drill and driver."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lab.cli.main import main

pytestmark = pytest.mark.interop
LIBRARY = Path(__file__).parents[2] / "scenarios"


def test_drills_by_endpoint(tmp_path: Path) -> None:
    drills = [str(LIBRARY / "site-a-killed.yaml"), str(LIBRARY / "both-sites-register.yaml")]
    code = main(["run", *drills, "--backend", "embedded", "--driver", "inprocess",
                 "--driver", "process", "-q", "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    (folder,) = tmp_path.iterdir()
    suites = ET.parse(folder / "junit.xml").getroot()
    assert suites.tag == "testsuites"
    assert [s.get("name") for s in suites] == ["geolab (inprocess)", "geolab (process)"]
    assert all(s.get("tests") == "2" and s.get("failures") == "0" for s in suites)
    summary = (folder / "summary.md").read_text()
    assert "| drill | inprocess | process |" in summary
    assert summary.count("| PASS | PASS |") == 2
    # how many drills graded each endpoint, and how
    assert "| **each endpoint** | 2 graded: 2 PASS, 0 FAIL; 0 N/A | 2 graded: 2 PASS, 0 FAIL; " \
        "0 N/A |" in summary  # fmt: skip
    page = (folder / "report.html").read_text()
    assert 'class="matrix"' in page and "driver process" in page
    assert "<th>2 graded: 2 PASS, 0 FAIL; 0 N/A</th>" in page
    pcaps = sorted(p.name for p in folder.glob("*.pcap"))
    assert pcaps == ["both-sites-register-inprocess.pcap", "both-sites-register-process.pcap",
                     "site-a-killed-inprocess.pcap", "site-a-killed-process.pcap"]  # fmt: skip
