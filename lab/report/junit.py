"""JUnit XML: one testcase per scenario, properties for backend, seed, mode and timings."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from lab.report.base import FileReport
from lab.report.figures import dr_figures, junit_properties
from lab.stream.results import ScenarioResult


def failure_text(result: ScenarioResult) -> str:
    lines = [
        f"{result.source}:{e.line}: expected {e.expected}\n    observed {e.observed}"
        for e in result.failures
    ]
    lines += [f"error: {err}" for err in result.errors]
    return "\n".join(lines)


def render_junit(meta: dict[str, Any], results: list[ScenarioResult]) -> str:
    """One testsuite; a drill-by-endpoint run (several drivers): one per driver."""
    drivers = list(dict.fromkeys(r.driver for r in results))
    if len(drivers) <= 1:
        return ET.tostring(_suite(meta, results, "geolab"), encoding="unicode",
                           xml_declaration=True)  # fmt: skip
    root = ET.Element("testsuites", name="geolab")
    for driver in drivers:
        root.append(_suite(meta, [r for r in results if r.driver == driver], f"geolab ({driver})"))
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _suite(meta: dict[str, Any], results: list[ScenarioResult], name: str) -> ET.Element:
    failures = sum(1 for r in results if r.verdict == "FAIL")
    skipped = sum(1 for r in results if r.not_applicable)
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(results)),
        failures=str(failures),
        errors="0",
        skipped=str(skipped),
        time=f"{sum(r.duration for r in results):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key in ("id", "seed", "mode", "backend"):
        ET.SubElement(props, "property", name=key, value=str(meta.get(key, "")))
    for r in results:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=r.source or "scenario",
            name=r.name,
            time=f"{r.duration:.3f}",
        )
        cprops = ET.SubElement(case, "properties")
        for key, value in (
            ("backend", r.backend),
            ("driver", r.driver),
            ("seed", r.seed),
            ("mode", r.mode),
            ("expectations", len(r.expectations)),
        ):
            ET.SubElement(cprops, "property", name=key, value=str(value))
        for key, value in junit_properties(dr_figures(r.events)):
            ET.SubElement(cprops, "property", name=key, value=value)
        cited = list(r.references)  # the rules it grades, then its expectations' own
        cited += [ref for e in r.expectations for ref in e.references if ref not in cited]
        for ref in dict.fromkeys(cited):
            broken = any(ref in e.references and not e.passed for e in r.expectations)
            verdict = "FAIL" if broken or (ref in r.references and r.verdict == "FAIL") \
                else r.verdict  # fmt: skip
            ET.SubElement(cprops, "property", name="reference", value=f"{ref}: {verdict}")
        fleet = r.fleet.fields() if r.fleet is not None else None
        if fleet is not None:
            for key in ("endpoints", "unrecovered", "p50", "p90", "p99", "max"):
                ET.SubElement(cprops, "property", name=f"fleet.{key}", value=str(fleet[key]))
            for site, peak in sorted(fleet["peak_register_per_s"].items()):
                ET.SubElement(cprops, "property", name=f"fleet.peak.{site}", value=str(peak))
        if r.not_applicable:  # not applicable to this driver: skipped, never passed
            skip = ET.SubElement(case, "skipped", message="not applicable: " + r.not_applicable[0])
            skip.text = "\n".join(r.not_applicable)
        elif not r.passed:
            first = r.failures[0].expected if r.failures else (r.errors or ["failed"])[0]
            failure = ET.SubElement(case, "failure", message=first)
            failure.text = failure_text(r)
    return suite


class JunitReport(FileReport):
    """``junit.xml``: one testcase per drill."""

    name, filename = "junit", "junit.xml"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_junit(meta, results)
