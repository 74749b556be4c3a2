"""YAML read with the line of every value, a key given twice refused, and values YAML
cannot hold (a number of thousands of digits) said at their line: what a file's errors
need to point at ``file:line``. Settings files (:mod:`endpoint.configfile`) and drills
(``lab.drill.loader``) are read with it, each naming paths its own way (``dotted``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

Path_ = tuple[str | int, ...]
MAX_NODES = 100_000  # values once aliases are expanded (no "billion laughs")
MAX_DEPTH = 64
_STR = "tag:yaml.org,2002:str"


class MarkedError(ValueError):
    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def dotted(path: Path_) -> str:
    return ".".join(str(part) for part in path)


def load_marked(
    text: str, dotted: Callable[[Path_], str] = dotted
) -> tuple[Any, dict[Path_, int]]:
    """The document in ``text`` and the line of each value by its path (keys and list
    indexes); MarkedError says what is wrong and where (paths named by ``dotted``)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise MarkedError(1, f"too big: nested deeper than {MAX_DEPTH}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise MarkedError(mark.line + 1 if mark else 1,
                          f"not valid YAML: {getattr(exc, 'problem', exc)}") from None  # fmt: skip
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    constructor = yaml.constructor.SafeConstructor()
    budget = [MAX_NODES]

    def scalar(node: yaml.Node, path: Path_) -> Any:
        try:
            return constructor.construct_object(node, deep=True)
        except (ValueError, TypeError, yaml.YAMLError) as exc:  # a number past Python's digits
            what = "a number too long to read" if "digits" in str(exc) else str(exc)
            what = f"{dotted(path) or 'value'}: not a valid value: {what}"
            raise MarkedError(node.start_mark.line + 1, what) from None

    def build(node: yaml.Node, path: Path_) -> Any:
        line = node.start_mark.line + 1
        budget[0] -= 1
        if budget[0] < 0:
            raise MarkedError(line, f"too big: more than {MAX_NODES} values (aliases expanded)")
        if len(path) > MAX_DEPTH:
            raise MarkedError(line, f"too big: nested deeper than {MAX_DEPTH}")
        lines[path] = line
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                key = key_node.value if key_node.tag == _STR else scalar(key_node, path)
                try:
                    seen = key in out
                except TypeError:  # a list or a mapping as a key
                    raise MarkedError(key_line, f"{key!r} cannot be a key") from None
                if seen:
                    raise MarkedError(
                        key_line,
                        f"{dotted((*path, key))}: given twice (first on line "
                        f"{lines[(*path, key)]}); a key may be given once",
                    )
                lines[(*path, key)] = key_line
                out[key] = build(value_node, (*path, key))
                lines[(*path, key)] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [build(item, (*path, i)) for i, item in enumerate(node.value)]
        return scalar(node, path)

    try:
        return build(node, ()), lines
    except RecursionError:
        raise MarkedError(1, f"too big: nested deeper than {MAX_DEPTH}") from None


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path`` or of its nearest ancestor that has one."""
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None
