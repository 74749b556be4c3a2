"""Errors of the lab. Each says what failed, where, and what to try."""

from __future__ import annotations


class LabError(Exception):
    """Base of every error the lab raises (CLI exit code 3)."""

    def __init__(self, what: str, *, hint: str | None = None, log: str | None = None) -> None:
        self.what = what
        self.hint = hint
        self.log = log
        text = what
        if log:
            text += "\n--- last log lines ---\n" + log.rstrip()
        if hint:
            text += f"\nHint: {hint}"
        super().__init__(text)


class SiteStartError(LabError):
    """A site did not come up."""
