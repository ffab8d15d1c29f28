"""Value builtins: now, duration, time, int, uint, float, string, bool (with column-wise versions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError
from app.emulator.flux.registry import Context, builtin
from app.emulator.flux.table import BOOL, DURATION, FLOAT, INT, STRING, TIME, UINT, Column
from app.emulator.flux.timeparse import parse_time_literal
from app.emulator.flux.values import Duration, Time, format_duration, type_of


@builtin("now")
def now(ctx: Context, tables: Any) -> Time:
    return ctx.now


def parse_duration(text: str) -> Duration:
    from app.emulator.flux.lexer import tokenize
    from app.emulator.flux.parser import duration_from_parts

    body = text.strip()
    sign = 1
    if body.startswith("-"):
        sign, body = -1, body[1:]
    try:
        tokens = tokenize(body)
    except FluxError:
        tokens = []
    if len(tokens) != 2 or tokens[0].kind != "DURATION" or tokens[1].kind != "EOF":
        raise FluxError(f"duration(): cannot parse {text!r} as a duration (e.g. -7d, 1h30m)")
    parts = tokens[0].value
    assert isinstance(parts, tuple)
    value = duration_from_parts(parts)
    return -value if sign < 0 else value


@builtin("duration")
def duration(ctx: Context, tables: Any, *, v: Any) -> Duration | None:
    if v is None:
        return None
    if isinstance(v, Duration):
        return v
    if isinstance(v, str):
        return parse_duration(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return Duration(0, v)
    raise FluxError(f"duration(): cannot convert a {type_of(v)} to a duration")


@builtin("time")
def time_(ctx: Context, tables: Any, *, v: Any) -> Time | None:
    if v is None or isinstance(v, Time):
        return v
    if isinstance(v, str):
        try:
            return parse_time_literal(v.strip())
        except ValueError as exc:
            raise FluxError(f"time(): cannot parse {v!r} as an RFC 3339 time: {exc}") from None
    if isinstance(v, int) and not isinstance(v, bool):
        return Time(v)
    raise FluxError(f"time(): cannot convert a {type_of(v)} to a time")


def _int_value(v: Any, name: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise FluxError(f"{name}(): cannot convert {v} to an integer")
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            raise FluxError(f"{name}(): cannot convert string {v!r} to an integer") from None
    if isinstance(v, Time):
        return v.ns
    if isinstance(v, Duration):
        return v.fixed_ns()
    raise FluxError(f"{name}(): cannot convert a {type_of(v)} to an integer")


def _int_vector(ctx: Context, *, v: Any) -> Any:
    if not isinstance(v, Column):
        return _int_value(v, "int")
    if v.type in {INT, TIME}:
        return Column(INT, v.values.astype(np.int64), v.nulls)
    if v.type in {FLOAT, UINT, BOOL}:
        if v.type == FLOAT and not bool(
            np.isfinite(v.values[~v.nulls] if v.nulls is not None else v.values).all()
        ):
            raise FluxError("int(): cannot convert NaN or Inf to an integer")
        return Column(
            INT,
            np.trunc(v.values).astype(np.int64) if v.type == FLOAT else v.values.astype(np.int64),
            v.nulls,
        )
    return Column.from_values(INT, [_int_value(x, "int") for x in v.to_list()])


@builtin("int", vector=_int_vector)
def int_(ctx: Context, tables: Any, *, v: Any) -> int | None:
    return _int_value(v, "int")


@builtin("uint")
def uint(ctx: Context, tables: Any, *, v: Any) -> int | None:
    value = _int_value(v, "uint")
    return None if value is None else value % (1 << 64)


def _float_value(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            raise FluxError(f"float(): cannot convert string {v!r} to a float") from None
    raise FluxError(f"float(): cannot convert a {type_of(v)} to a float")


def _float_vector(ctx: Context, *, v: Any) -> Any:
    if not isinstance(v, Column):
        return _float_value(v)
    if v.type in {INT, UINT, FLOAT, BOOL}:
        return Column(FLOAT, v.values.astype(np.float64), v.nulls)
    return Column.from_values(FLOAT, [_float_value(x) for x in v.to_list()])


@builtin("float", vector=_float_vector)
def float_(ctx: Context, tables: Any, *, v: Any) -> float | None:
    return _float_value(v)


def _string_value(v: Any) -> str | None:
    from app.emulator.flux.csvout import format_float

    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str | int | Time):
        return str(v)
    if isinstance(v, Duration):
        return format_duration(v)
    raise FluxError(f"string(): cannot convert a {type_of(v)} to a string")


def _string_vector(ctx: Context, *, v: Any) -> Any:
    if not isinstance(v, Column):
        return _string_value(v)
    if v.type == STRING:
        return v
    return Column.from_values(STRING, [_string_value(x) for x in v.to_list()])


@builtin("string", vector=_string_vector)
def string(ctx: Context, tables: Any, *, v: Any) -> str | None:
    return _string_value(v)


@builtin("bool")
def bool_(ctx: Context, tables: Any, *, v: Any) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, str) and v in {"true", "false"}:
        return v == "true"
    if isinstance(v, int | float) and v in (0, 1):
        return bool(v)
    raise FluxError(f"bool(): cannot convert {v!r} to a bool")


__all__ = ["DURATION", "TIME"]
