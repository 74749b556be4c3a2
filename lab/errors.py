"""Errors of the lab, all in one place. Each says what failed, where, and what to try.

- :class:`LabError` (exit code 3): the lab could not do something (a site, a fault, a
  socket); :class:`SiteStartError` a site that did not come up.
- :class:`ScenarioError` (exit code 2): a drill file is wrong; it lists each
  :class:`Problem` as ``file:line: path: message``.
- :class:`StepFailed`: a ``wait_for`` did not see its event, so the drill cannot go on
  (its verdict is FAIL; it is not an error of the lab).
- :class:`ExprError`: a bound expression that is not one (part of a ScenarioError).
- :class:`ToxiproxyError`: the fault proxy's API refused a request (a LabError);
  :class:`ApiError` is what the proxy's own server answers with, :class:`ToxicError` a
  toxic's attributes that make no sense.
- :class:`SimulationStalled`: virtual time with nothing ready and no timer left."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


class ScenarioError(ValueError):
    """One or more problems in a scenario file; ``str()`` lists them, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StepFailed(Exception):
    """A wait_for that did not see its event: the rest of the drill cannot go on."""


class ExprError(ValueError):
    """A bound expression (``within: reg_interval + 2s``) that is not one."""


class ToxiproxyError(LabError):
    def __init__(self, status: int, message: str, request: str) -> None:
        super().__init__(f"fault proxy API {request}: {status} {message}")
        self.status = status


class ApiError(Exception):
    """The fault proxy's server answers a request with ``status`` and this message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ToxicError(ValueError):
    """A toxic whose type or attributes make no sense."""


class SimulationStalled(RuntimeError):
    """Nothing is ready and no timer is left: the simulation waits for what never comes."""
