"""YAML with line marks, validation, and errors that point at the file and line."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from endpoint import marked
from endpoint.config import ConfigError
from endpoint.configfile import load as load_endpoint_config
from lab.drill.schema import Scenario, semantic_errors
from lab.errors import Problem, ScenarioError

Path_ = tuple[str | int, ...]


MAX_BYTES = 1 << 20  # a drill file is at most 1 MiB


def load_marked(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    """The drill's YAML with the line of every value (:mod:`endpoint.marked`)."""
    try:
        return marked.load_marked(text, dotted)
    except marked.MarkedError as exc:
        raise ScenarioError([Problem(file, exc.line, "", exc.what)]) from None


def line_of(lines: dict[Path_, int], path: Path_) -> int:
    """The line of ``path`` or of its nearest ancestor that has one."""
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return 1


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_scenario(
    path: str | Path, *, mode: str | None = None, backend: str | None = None,
    driver: str | None = None, session: bool = False,
) -> Scenario:
    """The drill in ``path``, checked as a whole, for the lab of ``mode`` and ``backend``
    when given (else the drill's own): ScenarioError lists every problem."""
    p = Path(path)
    file = str(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise ScenarioError(
                [Problem(file, 1, "", f"too big: {p.stat().st_size} bytes (at most {MAX_BYTES})")]
            )
        raw = p.read_bytes()
    except OSError as exc:
        raise ScenarioError([Problem(file, 1, "", f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            [
                Problem(
                    file, line, "", f"not UTF-8 (byte {raw[exc.start]:#04x} at offset {exc.start})"
                )
            ]
        ) from None
    data, lines = load_marked(text, file)
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem(file, 1, "", "a scenario is a mapping (name, topology, endpoint, steps …)")]
        )
    problems: list[Problem] = []
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(
                p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))
            )
            loc = _clean(loc)
            problems.append(Problem(file, line_of(lines, loc), dotted(loc), _message(err)))
        raise ScenarioError(problems) from None
    scenario.digest = hashlib.sha256(raw).hexdigest()[:16]
    if scenario.endpoint.config:
        try:
            cfg = load_endpoint_config(p.parent / scenario.endpoint.config)
            scenario.use_config_file(cfg.connections, cfg.invite_timeout)
            loc = ("endpoint", "config")
            for conn in cfg.connections:  # servers name the drill's sites
                if conn.server not in scenario.topology.sites:
                    sites = ", ".join(scenario.topology.sites)
                    what = f"connection {conn.id}: server {conn.server!r} is not a site ({sites})"
                    problems.append(Problem(file, line_of(lines, loc), dotted(loc), what))
        except ConfigError as exc:
            loc = ("endpoint", "config")
            problems.append(Problem(file, line_of(lines, loc), dotted(loc), str(exc)))
    for loc, message in semantic_errors(scenario, mode=mode, backend=backend, driver=driver,
                                        session=session):
        problems.append(Problem(file, line_of(lines, loc), dotted(loc), message))
    if problems:
        raise ScenarioError(problems)
    scenario.source = file
    scenario.lines = {dotted(k): v for k, v in lines.items()}
    scenario.step_lines = [line_of(lines, ("steps", i)) for i in range(len(scenario.steps))]
    return scenario


def _clean(loc: Path_) -> Path_:
    # pydantic puts union/tagged member names into loc; keep the path of the document
    return tuple(
        p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str", "float", "int")))
    )


def _message(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "required field is missing"
    return msg.removeprefix("Value error, ")


def load_all(
    paths: list[Path], *, mode: str | None = None, backend: str | None = None,
    driver: str | None = None,
) -> tuple[list[Scenario], list[Problem]]:
    """Every drill of ``paths``, each file read once, and every problem of those that are
    not valid."""
    scenarios: list[Scenario] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            scenarios.append(load_scenario(path, mode=mode, backend=backend, driver=driver))
        except ScenarioError as exc:
            problems.extend(exc.problems)
    return scenarios, problems


def validate_files(
    paths: list[Path], *, mode: str | None = None, backend: str | None = None
) -> list[Problem]:
    return load_all(paths, mode=mode, backend=backend)[1]
