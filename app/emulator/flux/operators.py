"""Scalar semantics of Flux operators (shared by the interpreter and the per-row fallback)."""

from __future__ import annotations

import math
import re
from typing import Any

from app.emulator.flux.errors import FluxError
from app.emulator.flux.values import Duration, Time, type_of

_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def compare(op: str, left: Any, right: Any) -> bool:
    """Comparison; a null operand makes every comparison false. int and float compare numerically."""
    if op in {"=~", "!~"}:
        if left is None or right is None:
            return False
        if not isinstance(left, str) or not isinstance(right, re.Pattern):
            raise FluxError(
                f"type error: {op} needs a string and a regular expression, got "
                f"{type_of(left)} and {type_of(right)}"
            )
        found = right.search(left) is not None
        return found if op == "=~" else not found
    if left is None or right is None:
        return False
    if not (_is_number(left) and _is_number(right)) and type(left) is not type(right):
        raise FluxError(f"type error: cannot compare {type_of(left)} with {type_of(right)} using {op}")
    if isinstance(left, Duration) and op not in {"==", "!="}:
        raise FluxError(f"type error: durations cannot be compared with {op}")
    if isinstance(left, re.Pattern | dict | list) and op not in {"==", "!="}:
        raise FluxError(f"type error: {type_of(left)} values cannot be compared with {op}")
    return bool(_COMPARE[op](left, right))


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """+ - * / % ^ with Flux's typing: both operands of one type (string + string concatenates)."""
    if left is None or right is None:
        return None
    lt, rt = type_of(left), type_of(right)
    if lt != rt:
        raise FluxError(f"type error: cannot apply {op} to {lt} and {rt}")
    if lt == "string" and op == "+":
        return left + right
    if lt == "duration" and op in {"+", "-"}:
        return left + right if op == "+" else left + (-right)
    if lt not in {"int", "float"}:
        raise FluxError(f"type error: {op} is not defined for {lt}")
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "^":
        return float(left**right) if lt == "float" or right < 0 else int(left**right)
    if right == 0:
        if lt == "int":
            raise FluxError(f"cannot {'divide' if op == '/' else 'take the remainder'} by zero")
        if op == "%":
            return math.nan
        return math.copysign(math.inf, left) if left else math.nan
    if op == "/":
        return int(left / right) if lt == "int" else left / right
    if op == "%":
        return int(math.fmod(left, right)) if lt == "int" else math.fmod(left, right)
    raise FluxError(f"unsupported operator {op}")


def truthy(value: Any, what: str) -> bool:
    """A bool operand (null counts as false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise FluxError(f"type error: {what} needs a bool, got {type_of(value)}")
    return value


def negate(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Duration) or _is_number(value):
        return -value
    raise FluxError(f"type error: cannot negate a {type_of(value)}")


__all__ = ["Time", "arithmetic", "compare", "negate", "truthy"]
