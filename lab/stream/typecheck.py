"""Type checks for what a timeline's JSON gives back: every field of the declared type."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

_HINTS: dict[str, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    key = cls.__qualname__
    if key not in _HINTS:
        _HINTS[key] = typing.get_type_hints(cls)
    return _HINTS[key]


def _fits(value: Any, hint: Any) -> bool:
    """``value`` is of the simple type ``hint`` (what a timeline's JSON can hold)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return True
    if origin is typing.Final:  # an immutable field: its type is inside
        return _fits(value, typing.get_args(hint)[0])
    if origin in (types.UnionType, typing.Union):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, tuple) and all(_fits(v, typing.get_args(hint)[0]) for v in value)
    if origin is Mapping or hint is Mapping:
        return isinstance(value, Mapping)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def checked(obj: Any) -> Any:
    """``obj`` (a dataclass read from JSON) if every field has its declared type."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _fits(value, hints[f.name]):
            want = hints[f.name]
            raise ValueError(f"{type(obj).__name__}.{f.name}: {value!r:.60} is not a {want}")
        if dataclasses.is_dataclass(value):
            checked(value)
    return obj


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_storm(storm: Mapping[str, Any]) -> None:
    """The storm's figures, as the reports read them."""
    for key in ("endpoints", "unrecovered", "p50", "p90", "p99", "max", "back_at"):
        if key in storm and not _number(storm[key]):
            raise ValueError(f"fleet.{key}: {storm[key]!r:.60} is not a number")
    bins = storm.get("histogram", [])
    if not isinstance(bins, list) or not all(
        isinstance(b, list) and len(b) == 3 and all(_number(x) for x in b) for b in bins
    ):
        raise ValueError("fleet.histogram: not a list of [from, to, count]")
    for name in ("load", "peak_register_per_s"):
        table = storm.get(name, {})
        if not isinstance(table, Mapping) or not all(isinstance(k, str) for k in table):
            raise ValueError(f"fleet.{name}: not a table by site")
    for points in storm.get("load", {}).values():
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(_number(x) for x in p) for p in points
        ):
            raise ValueError("fleet.load: not a list of [second, count] per site")
    if not all(_number(v) for v in storm.get("peak_register_per_s", {}).values()):
        raise ValueError("fleet.peak_register_per_s: not a number per site")
