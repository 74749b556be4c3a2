"""What a run leaves for a CI system: ``metrics.txt`` as OpenMetrics (read back by
prometheus_client's own parser), GitHub's job summary, and an ``::error`` annotation per
failed expectation at its drill file's line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from lab.cli.main import main
from lab.report.ci import error_annotations
from lab.stream.results import Expectation, ScenarioResult

LIBRARY = Path(__file__).parents[2] / "scenarios"

FAILING = """name: a drill that fails
topology: {sites: [a, b]}
endpoint:
  connections:
    - {site: a, reg_interval: 60, retry_interval: 1, transaction_timeout: 1}
    - {site: b, reg_interval: 60, retry_interval: 1, transaction_timeout: 1}
steps:
  - wait_for: {event: ConnectionStatusChanged, connection: 0, status: Available}
    within: 5s
  - expect: {event: ConnectionStatusChanged, connection: 1, status: Unavailable}
    within: 0.2s
"""


def test_a_run_writes_its_dr_figures_as_openmetrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    code = main(["run", str(LIBRARY / "site-a-killed.yaml"), "--mode", "sim", "-q",
                 "--report-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    (folder,) = tmp_path.iterdir()
    text = (folder / "metrics.txt").read_text()
    assert text.endswith("# EOF\n")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (passed,) = families["geolab_drill_passed"].samples
    assert passed.labels == {"drill": "site-a-killed", "driver": "inprocess",
                             "backend": "sim"} and passed.value == 1  # fmt: skip
    (detection,) = families["geolab_outage_detection_seconds"].samples
    assert families["geolab_outage_detection_seconds"].unit == "seconds"
    assert detection.labels["site"] == "a" and detection.labels["fault"] == "kill"
    # the figure is the one the other reports give
    junit_figure = float(_junit_property(folder, "dr.outage1.detection_s"))
    assert detection.value == pytest.approx(junit_figure, abs=0.001)
    assert "::error" not in capsys.readouterr().out


def _junit_property(folder: Path, name: str) -> str:
    for prop in ET.parse(folder / "junit.xml").getroot().iter("property"):
        if prop.get("name") == name:
            return prop.get("value") or ""
    raise AssertionError(f"no property {name}")


def test_on_github_a_failed_expectation_is_annotated_and_the_summary_appended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    drill = tmp_path / "fails.yaml"
    drill.write_text(FAILING)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier steps\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code = main(["run", str(drill), "--mode", "sim", "-q", "--report-dir", str(tmp_path / "r")])
    assert code == 1
    out = capsys.readouterr().out
    (annotation,) = [line for line in out.splitlines() if line.startswith("::error")]
    assert annotation.startswith(f"::error file={drill},line=10,title=a drill that fails (inprocess)::")
    assert "expected ConnectionStatusChanged connection=1 status=Unavailable" in annotation
    (folder,) = (tmp_path / "r").iterdir()
    assert summary.read_text() == "earlier steps\n" + (folder / "summary.md").read_text() + "\n"
    families = {f.name: f for f in text_string_to_metric_families(
        (folder / "metrics.txt").read_text())}  # fmt: skip
    (failed,) = families["geolab_drill_failed_expectations"].samples
    assert failed.value == 1 and families["geolab_drill_passed"].samples[0].value == 0


def test_annotations_escape_what_would_end_them() -> None:
    result = ScenarioResult(name="x, y: z", source="a,b:c.yaml", backend="sim", mode="sim",
                            seed=0, expectations=[Expectation(None, 3, "one\ntwo %", False,
                                                              "seen", 1.0)])  # fmt: skip
    (line,) = error_annotations([result])
    assert line == ("::error file=a%2Cb%3Ac.yaml,line=3,title=x%2C y%3A z (inprocess)::"
                    "expected one%0Atwo %25; observed seen")
