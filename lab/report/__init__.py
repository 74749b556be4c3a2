"""Consumers of the run's event stream: JSON timeline, JUnit XML, HTML, Markdown, console."""

from lab.report.write import write_reports

__all__ = ["write_reports"]
