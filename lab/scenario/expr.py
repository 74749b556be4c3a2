"""Bounds written as expressions of the configuration: ``reg_interval + 2s``,
``2 * retry_interval + transaction_timeout``, ``500ms``, ``conn1.reg_interval + 1s``."""

from __future__ import annotations

import ast
import math
import re

from lab.errors import ExprError

_UNIT = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)\b")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_TEXT = 200  # characters: a bound is a short sum of settings and durations
MAX_BOUND = 30 * 86400.0  # s: no bound is longer than 30 days


def _units(text: str) -> str:
    return _UNIT.sub(lambda m: repr(float(m.group(1)) * _SCALE[m.group(2)]), text)


def parse_bound(text: str | float | int) -> ast.Expression:
    if isinstance(text, bool):
        raise ExprError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        return ast.Expression(body=ast.Constant(float(text)))
    if len(str(text)) > MAX_TEXT:
        raise ExprError(f"a bound of {len(str(text))} characters (at most {MAX_TEXT})")
    try:
        tree = ast.parse(_units(str(text)), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExprError(f"not an expression: {text!r}") from None
    for node in ast.walk(tree):
        if not isinstance(
            node,
            ast.Expression
            | ast.BinOp
            | ast.UnaryOp
            | ast.Constant
            | ast.Name
            | ast.Attribute
            | ast.Load
            | ast.Add
            | ast.Sub
            | ast.Mult
            | ast.Div
            | ast.USub
            | ast.UAdd,
        ):
            raise ExprError(f"{type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ExprError(f"{node.value!r} is not a number in {text!r}")
    return tree


def names(tree: ast.Expression) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Name):
            found.add(node.id)
    return {n for n in found if not any(m.startswith(n + ".") for m in found)}


def evaluate(tree: ast.Expression, env: dict[str, float]) -> float:
    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in env:
                raise ExprError(f"unknown name {node.id!r}; known: {', '.join(sorted(env))}")
            return env[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            key = f"{node.value.id}.{node.attr}"
            if key not in env:
                raise ExprError(f"unknown name {key!r}")
            return env[key]
        if isinstance(node, ast.UnaryOp):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if right == 0:
                raise ExprError("division by zero")
            return left / right
        raise ExprError(f"cannot evaluate {ast.dump(node)}")

    return ev(tree)


def seconds(text: str | float | int, env: dict[str, float] | None = None) -> float:
    """A bound in seconds: finite, not negative, at most MAX_BOUND (ExprError else)."""
    value = evaluate(parse_bound(text), env or {})
    if not math.isfinite(value):
        raise ExprError(f"{text!r} is not a finite number of seconds ({value})")
    if value < 0:
        raise ExprError(f"{text!r} is negative ({value:g}s)")
    if value > MAX_BOUND:
        raise ExprError(f"{text!r} is over {MAX_BOUND:g}s ({value:g}s)")
    return value
