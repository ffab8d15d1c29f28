"""Which ``params.X`` a script uses, and the type each use implies (for ``GET .../params``)."""

from __future__ import annotations

import re
from typing import Any

from app.emulator.flux import ast
from app.emulator.flux.parser import parse
from app.emulator.flux.values import Duration, Time

PARAMS = "params"
# (function, argument) -> the type a parameter passed there must have.
ARGUMENT_TYPES: dict[tuple[str, str], str] = {
    ("from", "bucket"): "string",
    ("from", "bucketID"): "string",
    ("from", "org"): "string",
    ("from", "orgID"): "string",
    ("limit", "n"): "int",
    ("limit", "offset"): "int",
    ("tail", "n"): "int",
    ("tail", "offset"): "int",
    ("top", "n"): "int",
    ("bottom", "n"): "int",
    ("sample", "n"): "int",
    ("yield", "name"): "string",
    ("first", "column"): "string",
    ("last", "column"): "string",
    ("aggregateWindow", "every"): "duration",
    ("aggregateWindow", "period"): "duration",
    ("aggregateWindow", "offset"): "duration",
    ("aggregateWindow", "createEmpty"): "bool",
    ("aggregateWindow", "column"): "string",
    ("window", "every"): "duration",
    ("window", "period"): "duration",
    ("sort", "desc"): "bool",
    ("distinct", "column"): "string",
    ("unique", "column"): "string",
    ("derivative", "unit"): "duration",
    ("derivative", "nonNegative"): "bool",
    ("strings.hasPrefix", "v"): "string",
    ("strings.hasPrefix", "prefix"): "string",
    ("strings.hasSuffix", "v"): "string",
    ("strings.hasSuffix", "suffix"): "string",
    ("strings.containsStr", "v"): "string",
    ("strings.containsStr", "substr"): "string",
}


def _param_name(node: Any) -> str | None:
    if isinstance(node, ast.Member) and isinstance(node.obj, ast.Identifier) and node.obj.name == PARAMS:
        return node.name
    if (
        isinstance(node, ast.Index)
        and isinstance(node.obj, ast.Identifier)
        and node.obj.name == PARAMS
        and isinstance(node.index, ast.Literal)
        and isinstance(node.index.value, str)
    ):
        return node.index.value
    return None


def used_params(program: ast.Program) -> list[str]:
    """Names of every ``params.X`` / ``params["X"]`` in the script, in order of first use."""
    names: dict[str, None] = {}
    for node in ast.walk(program):
        name = _param_name(node)
        if name is not None:
            names[name] = None
    return list(names)


def _literal_type(node: Any) -> str | None:
    if not isinstance(node, ast.Literal):
        return "string" if isinstance(node, ast.StringInterp) else None
    value = node.value
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Duration):
        return "duration"
    if isinstance(value, Time):
        return "time"
    if isinstance(value, re.Pattern):
        return "regexp"
    return None


def _callee_name(node: Any) -> str | None:
    if isinstance(node, ast.Identifier):
        return node.name
    if isinstance(node, ast.Member) and isinstance(node.obj, ast.Identifier):
        return f"{node.obj.name}.{node.name}"
    return None


def _hints(program: ast.Program) -> dict[str, str]:
    hints: dict[str, str] = {}

    def hint(node: Any, kind: str | None) -> None:
        name = _param_name(node)
        if name is not None and kind and kind != "regexp" and name not in hints:
            hints[name] = kind

    for node in ast.walk(program):
        if isinstance(node, ast.Call):
            callee = _callee_name(node.callee)
            for arg, expr in node.args:
                hint(expr, ARGUMENT_TYPES.get((callee or "", arg)))
        elif isinstance(node, ast.Binary):
            if node.op in {"=~", "!~"}:
                hint(node.left, "string")
            else:
                hint(node.left, _literal_type(node.right))
                hint(node.right, _literal_type(node.left))
        elif isinstance(node, ast.Logical):
            hint(node.left, "bool")
            hint(node.right, "bool")
        elif isinstance(node, ast.Unary) and node.op == "not":
            hint(node.operand, "bool")
        elif isinstance(node, ast.Conditional):
            hint(node.test, "bool")
    return hints


def infer_params(script: str) -> dict[str, str]:
    """``{name: type}`` for every param the script uses; ``any`` where the use does not tell."""
    program = parse(script)
    hints = _hints(program)
    return {name: hints.get(name, "any") for name in used_params(program)}
