"""``metrics.txt``: a run's verdicts and DR figures as OpenMetrics text (what GitLab's
metrics report compares between a merge request and its target; any Prometheus-style
reader takes it), written with ``prometheus_client``. Every sample is labelled with the
drill (its file's stem), the driver and the backend; an outage's figures also with the
connection, the site, the fault and the outage's number in the drill. A figure that was
not seen (no detection, no recovery) has no sample: absent is not zero."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from lab.report.base import FileReport
from lab.report.figures import dr_figures
from lab.stream.results import ScenarioResult

DRILL = ["drill", "driver", "backend"]
OUTAGE = [*DRILL, "connection", "site", "fault", "outage"]
DIAL = [*DRILL, "connection", "dial"]
MOVE = [*DRILL, "connection", "site", "fault", "to", "move"]


def _family(name: str, doc: str, labels: list[str], unit: str = "") -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels, unit=unit)


class _RunCollector(Collector):
    def __init__(self, results: list[ScenarioResult]) -> None:
        self.results = results

    def collect(self) -> Iterator[Metric]:
        verdict = _family("geolab_drill_passed", "1 when the drill passed, 0 when it failed "
                          "(a drill not applicable to the driver has no sample)", DRILL)
        duration = _family("geolab_drill_duration", "the drill's own time", DRILL, "seconds")
        failed = _family("geolab_drill_failed_expectations", "its expectations that failed",
                         DRILL)  # fmt: skip
        detection = _family("geolab_outage_detection", "from the fault to Unavailable",
                            OUTAGE, "seconds")  # fmt: skip
        recovery = _family("geolab_outage_recovery", "from the heal to Available again",
                           OUTAGE, "seconds")  # fmt: skip
        flaps = _family("geolab_outage_flaps", "status changes from the fault to the recovery",
                        OUTAGE)  # fmt: skip
        registers = _family("geolab_outage_registers",
                            "REGISTERs sent to the site while it was out", OUTAGE)
        dial = _family("geolab_failover_dial", "first Dialing to Established through another "
                       "connection, for a dial made from one whose site was out", DIAL,
                       "seconds")  # fmt: skip
        move = _family("geolab_name_moved", "from an outage of a connection's site (or a DNS "
                       "change of its name) to a registration another site granted it",
                       MOVE, "seconds")  # fmt: skip
        for r in self.results:
            if r.not_applicable:
                continue
            drill = [Path(r.source).stem if r.source else r.name, r.driver, r.backend]
            verdict.add_metric(drill, 1.0 if r.verdict == "PASS" else 0.0)
            duration.add_metric(drill, r.duration)
            failed.add_metric(drill, float(len(r.failures)))
            figures = dr_figures(r.events)
            for n, o in enumerate(figures.outages, 1):
                where = [*drill, str(o.connection), o.site, o.fault, str(n)]
                flaps.add_metric(where, float(o.flaps))
                registers.add_metric(where, float(o.registers))
                if o.detection is not None:
                    detection.add_metric(where, o.detection)
                if o.recovery is not None:
                    recovery.add_metric(where, o.recovery)
            for n, d in enumerate(figures.dials, 1):
                if d.seconds is not None:
                    dial.add_metric([*drill, str(d.connection), str(n)], d.seconds)
            for n, m in enumerate(figures.moves, 1):
                if m.seconds is not None and m.to is not None:
                    move.add_metric([*drill, str(m.connection), m.site, m.fault, m.to, str(n)],
                                    m.seconds)  # fmt: skip
        yield from (verdict, duration, failed, detection, recovery, flaps, registers, dial, move)


def render_metrics(results: list[ScenarioResult]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RunCollector(results))
    text: bytes = generate_latest(registry)  # type: ignore[no-untyped-call]
    return text.decode()


class MetricsReport(FileReport):
    """``metrics.txt``: OpenMetrics, one sample per drill and figure."""

    name, filename = "metrics", "metrics.txt"

    def render(self, meta: dict[str, Any], results: list[ScenarioResult]) -> str:
        return render_metrics(results)
