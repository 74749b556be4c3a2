"""YAML with line marks, validation, and errors that point at the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from endpoint.config import ConfigError
from endpoint.configfile import load as load_endpoint_config
from lab.drill.schema import Scenario, semantic_errors
from lab.errors import Problem, ScenarioError

Path_ = tuple[str | int, ...]


_CONSTRUCTOR = yaml.constructor.SafeConstructor()  # typed scalars (tags resolved on compose)
MAX_BYTES = 1 << 20  # a drill file is at most 1 MiB
MAX_NODES = 100_000  # YAML nodes once aliases are expanded (no "billion laughs")
MAX_DEPTH = 64


class _TooBig(Exception):
    def __init__(self, line: int, what: str) -> None:
        self.line = line
        self.what = what


class _Refused(_TooBig):
    """Not too big, but refused all the same (a key given twice)."""


def _to_python(
    node: yaml.Node, path: Path_, lines: dict[Path_, int], budget: list[int] | None = None
) -> Any:
    budget = budget if budget is not None else [MAX_NODES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig(node.start_mark.line + 1, f"more than {MAX_NODES} values (aliases expanded)")
    if len(path) > MAX_DEPTH:
        raise _TooBig(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH}")
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = (
                _CONSTRUCTOR.construct_object(key_node, deep=True)
                if key_node.tag != "tag:yaml.org,2002:str"
                else key_node.value
            )
            if key in out:
                raise _Refused(
                    key_node.start_mark.line + 1,
                    f"{dotted((*path, key))}: given twice (first on line {lines[(*path, key)]}); "
                    "a key may be given once",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, (*path, key), lines, budget)
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, (*path, i), lines, budget) for i, item in enumerate(node.value)]
    try:
        return _CONSTRUCTOR.construct_object(node, deep=True)
    except (ValueError, TypeError, yaml.YAMLError) as exc:  # a number past Python's digits
        what = "a number too long to read" if "digits" in str(exc) else str(exc)
        what = f"{dotted(path) or 'value'}: not a valid value: {what}"
        raise _Refused(node.start_mark.line + 1, what) from None


def load_marked(text: str, file: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ScenarioError([Problem(file, 1, "", f"nested deeper than {MAX_DEPTH}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise ScenarioError(
            [Problem(file, line, "", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from None
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    try:
        return _to_python(node, (), lines), lines
    except _Refused as exc:
        raise ScenarioError([Problem(file, exc.line, "", exc.what)]) from None
    except _TooBig as exc:
        raise ScenarioError([Problem(file, exc.line, "", f"too big: {exc.what}")]) from None
    except (RecursionError, yaml.YAMLError, ValueError, TypeError) as exc:
        raise ScenarioError([Problem(file, 1, "", f"not a valid value: {exc}")]) from None
    finally:  # the constructor keeps what it built: not across files
        _CONSTRUCTOR.constructed_objects.clear()
        _CONSTRUCTOR.recursive_objects.clear()


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
    driver: str | None = None,
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
    for loc, message in semantic_errors(scenario, mode=mode, backend=backend, driver=driver):
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
