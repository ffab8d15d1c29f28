"""A schedule's parameter sets: a list of param objects and/or a matrix (cartesian product).

* ``params`` only: one set per object. ``param_matrix`` only: one set per combination. Both: every
  object combined with every matrix combination (object-major order). Neither: one empty set.
* Matrix names are expanded in sorted order, so the order of sets (and each invocation's index) does
  not depend on how the database stores the JSON.
* Values are strings, integers, finite floats or booleans. Inside string values the placeholders
  ``{window_start}``, ``{window_end}`` and ``{scheduled_for}`` are replaced by RFC 3339 UTC strings;
  ``{{`` and ``}}`` stand for literal braces. Nothing is evaluated: any other ``{name}`` is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

PLACEHOLDERS = ("window_start", "window_end", "scheduled_for")
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_PARAM_NAME_CHARS = 128


class ParamError(ValueError):
    """Raised when params or a param matrix are malformed; ``field`` names the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def rfc3339(value: datetime) -> str:
    """``value`` as an RFC 3339 UTC string (``2026-03-29T01:00:00Z``, microseconds only when set)."""
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    value = value.astimezone(UTC)
    spec = "microseconds" if value.microsecond else "seconds"
    return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def count_param_sets(params: list[dict[str, Any]], matrix: dict[str, list[Any]]) -> int:
    """How many parameter sets ``params`` and ``matrix`` expand to (without building them)."""
    count = max(1, len(params))
    for values in matrix.values():
        count *= len(values)
    return count


def _check_value(field: str, value: Any) -> None:
    if isinstance(value, bool | int | str):
        if isinstance(value, str):
            _check_placeholders(field, value)
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ParamError(field, "must be a finite number")
        return
    raise ParamError(field, f"must be a string, integer, float or boolean, not {type(value).__name__}")


def _check_placeholders(field: str, text: str) -> None:
    for match in _TOKEN.finditer(text):
        name = match.group(1)
        if name is not None and name not in PLACEHOLDERS:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise ParamError(field, f"unknown placeholder {{{name}}} (allowed: {allowed})")


def _check_name(field: str, name: Any) -> None:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_PARAM_NAME_CHARS:
        raise ParamError(field, "param names must be identifiers (letters, digits, _), at most 128 chars")


def validate_param_sets(params: Any, matrix: Any, *, max_sets: int) -> None:
    """Check types, names, placeholders and the number of sets; raise ParamError naming the field."""
    if not isinstance(params, list):
        raise ParamError("params", "must be a list of objects")
    if not isinstance(matrix, dict):
        raise ParamError("param_matrix", "must be an object of name -> list of values")
    for i, item in enumerate(params):
        if not isinstance(item, dict):
            raise ParamError(f"params[{i}]", "must be an object")
        for name, value in item.items():
            _check_name(f"params[{i}]", name)
            _check_value(f"params[{i}].{name}", value)
            if name in matrix:
                raise ParamError(f"params[{i}].{name}", "is also a param_matrix name; use one or the other")
    for name, values in matrix.items():
        _check_name("param_matrix", name)
        if not isinstance(values, list) or not values:
            raise ParamError(f"param_matrix.{name}", "must be a non-empty list of values")
        for j, value in enumerate(values):
            _check_value(f"param_matrix.{name}[{j}]", value)
    count = count_param_sets(params, matrix)
    if count > max_sets:
        raise ParamError(
            "param_matrix" if matrix else "params",
            f"expands to {count} parameter sets per run, more than the limit of {max_sets} "
            "(setting max_param_sets)",
        )


def render(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with placeholders filled in (non-strings are returned unchanged)."""
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name not in values:
            raise ParamError(name, f"unknown placeholder {{{name}}}")
        return values[name]

    return _TOKEN.sub(replace, value)


def expand_param_sets(
    params: list[dict[str, Any]],
    matrix: dict[str, list[Any]],
    *,
    window_start: datetime | None,
    window_end: datetime,
    scheduled_for: datetime,
) -> list[dict[str, Any]]:
    """Every parameter set of a run, placeholders filled. A missing ``window_start`` (a first run with
    no earlier fire) renders as ``window_end``: an empty window rather than a malformed string."""
    values = {
        "window_start": rfc3339(window_start if window_start is not None else window_end),
        "window_end": rfc3339(window_end),
        "scheduled_for": rfc3339(scheduled_for),
    }
    names = sorted(matrix)
    combos = list(itertools.product(*(matrix[name] for name in names)))
    sets: list[dict[str, Any]] = []
    for base in params or [{}]:
        for combo in combos:
            merged = {**base, **dict(zip(names, combo, strict=True))}
            sets.append({key: render(val, values) for key, val in merged.items()})
    return sets


def params_hash(params: Mapping[str, Any]) -> str:
    """The first 16 hex chars of the SHA-256 of the canonical JSON of ``params``."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
