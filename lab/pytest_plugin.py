"""The geolab pytest plugin (entry point ``pytest11``).

``pytest scenarios/`` collects each scenario file (a YAML file with ``steps:`` or
``fleet:``) as one test item, with stable sorted names, so ``-n auto`` (pytest-xdist)
spreads them over workers, each with its own lab. A failure prints the scenario's
file:line and what was expected and observed. Options are prefixed ``--lab-``; fixtures ``lab`` and
``lab_backend`` let a team write drills in Python too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from endpoint.config import ConnectionConfig, EndpointConfig
from lab.drill import ScenarioError, load_scenario
from lab.drivers import DRIVERS
from lab.labs.interface import LabConfig
from lab.real.lab import Lab
from lab.report import write_reports
from lab.run.factory import run_in_mode
from lab.run.runner import run_scenario
from lab.stream.results import ScenarioResult


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("geolab", "geo-redundancy lab")
    group.addoption(
        "--lab-backend",
        action="store",
        default=None,
        choices=("auto", "embedded", "kamailio", "compose"),
        help="site backend for scenarios and the lab fixture (default: the scenario's)",
    )
    group.addoption("--lab-seed", action="store", type=int, default=0, help="seed for faults")
    group.addoption(
        "--lab-driver",
        action="store",
        default=None,
        choices=DRIVERS,
        help="the endpoint under test for scenarios (default: the scenario's)",
    )
    group.addoption(
        "--lab-report-dir",
        action="store",
        default=None,
        help="write each scenario's reports under this folder",
    )


def _looks_like_scenario(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(line.startswith(("steps:", "fleet:")) for line in head.splitlines())


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if _looks_like_scenario(file_path):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioFailure(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ScenarioItem(pytest.Item):
    """Loading and validation happen in runtest, so one bad file fails alone."""

    def runtest(self) -> None:
        try:
            scenario = load_scenario(self.path, driver=self.config.getoption("--lab-driver"))
        except ScenarioError as exc:
            raise ScenarioFailure(f"invalid scenario:\n{exc}") from None
        config = self.config
        result: ScenarioResult = run_in_mode(
            scenario.mode,
            run_scenario(
                scenario,
                backend=config.getoption("--lab-backend"),
                seed=config.getoption("--lab-seed"),
                driver=config.getoption("--lab-driver"),
                capture=Path(report_dir) / self.path.stem / f"{self.path.stem}.pcap"
                if (report_dir := config.getoption("--lab-report-dir")) else None,
            ),
        )
        self.user_properties.append(("backend", result.backend))
        self.user_properties.append(("seed", result.seed))
        report_dir = config.getoption("--lab-report-dir")
        if report_dir:
            write_reports(
                Path(report_dir) / self.path.stem,
                {
                    "id": self.path.stem,
                    "seed": result.seed,
                    "mode": result.mode,
                    "backend": result.backend,
                },
                [result],
            )
        if result.not_applicable:
            pytest.skip("not applicable: " + "; ".join(result.not_applicable))
        if not result.passed:
            lines = [
                f"{result.source}:{e.line}: expected {e.expected}\n    observed {e.observed}"
                for e in result.failures
            ]
            lines += [f"{result.source}: error: {err}" for err in result.errors]
            raise ScenarioFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailure):
            return excinfo.value.text
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario: {self.name}"


@pytest.fixture
def lab_backend(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--lab-backend") or "auto")


@pytest.fixture
def lab(lab_backend: str, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """A started two-site lab (a, b) behind the fault proxy; stopped after the test.
    Use it from ``asyncio.run`` inside the test: ``lab.target("a")``, ``lab.fault(...)``."""
    seed = int(request.config.getoption("--lab-seed"))
    instance = Lab(LabConfig(backend=lab_backend, seed=seed))
    asyncio.run(instance.start())
    try:
        yield instance
    finally:
        asyncio.run(instance.stop())


@pytest.fixture
def lab_sites(lab: Lab) -> dict[str, Any]:
    """The lab's sites by name (``lab_sites["a"].address``, ``.backend`` …)."""
    return dict(lab.sites)


@pytest.fixture
def lab_endpoint_config(lab: Lab) -> EndpointConfig:
    """An endpoint configuration with one connection per site, through the fault proxy;
    give it to ``AsyncPhone`` (or ``python -m endpoint``) in the test."""
    return EndpointConfig(
        connections=[
            ConnectionConfig(
                id=i,
                user="5001",
                server=lab.target(name)[0],
                port=lab.target(name)[1],
                domain=site.spec.domain,
            )
            for i, (name, site) in enumerate(lab.sites.items())
        ]
    )
