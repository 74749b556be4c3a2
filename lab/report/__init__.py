"""Consumers of the run's event stream, each a handler (:mod:`lab.stream.handlers`):
console, JSON timeline, JUnit XML, HTML, Markdown."""

from lab.report.write import file_reports, replay_reports, write_reports

__all__ = ["file_reports", "replay_reports", "write_reports"]
