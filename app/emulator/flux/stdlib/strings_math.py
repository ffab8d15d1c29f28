"""The ``strings`` functions used in filters and maps, the ``math`` constants and a few ``math``
functions, each with a column-wise version so ``filter``/``map`` stay vectorised."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError
from app.emulator.flux.registry import Context, builtin, register_constant
from app.emulator.flux.table import BOOL, FLOAT, INT, STRING, Column
from app.emulator.flux.values import type_of

# -- strings -------------------------------------------------------------------------------------------


def _text(value: Any, fn: str, arg: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise FluxError(f"strings.{fn}(): {arg} must be a string, got {type_of(value)}")


def _string_column(value: Column, fn: str, arg: str) -> Column:
    if value.type != STRING:
        raise FluxError(f"strings.{fn}(): {arg} must be a string, got {value.type}")
    return value


def _string_predicate(name: str, test: Callable[[str, str], bool], arg: str) -> None:
    """Register ``strings.<name>(v:, <arg>:) -> bool`` with a column-wise version."""

    def scalar(ctx: Context, tables: None, **kwargs: Any) -> bool | None:
        v = _text(kwargs.get("v"), name, "v")
        other = _text(kwargs.get(arg), name, arg)
        if v is None or other is None:
            return None
        return test(v, other)

    def vector(ctx: Context, **kwargs: Any) -> Any:
        v, other = kwargs.get("v"), kwargs.get(arg)
        if not isinstance(v, Column) and not isinstance(other, Column):
            return scalar(ctx, None, **kwargs)
        n = len(v) if isinstance(v, Column) else len(other)  # type: ignore[arg-type]
        left = _string_column(v, name, "v").values if isinstance(v, Column) else np.full(n, v, dtype=object)
        right = (
            _string_column(other, name, arg).values
            if isinstance(other, Column)
            else np.full(n, other, dtype=object)
        )
        nulls = np.zeros(n, dtype=bool)
        for value in (v, other):
            if isinstance(value, Column) and value.nulls is not None:
                nulls |= value.nulls
            elif value is None:
                nulls[:] = True
        out = np.fromiter(
            (bool(not null and test(a, b)) for a, b, null in zip(left, right, nulls, strict=True)),
            dtype=bool,
            count=n,
        )
        return Column(BOOL, out, nulls if nulls.any() else None)

    scalar.__signature__ = _signature(arg)  # type: ignore[attr-defined]
    builtin(name, package="strings", vector=vector)(scalar)


def _signature(arg: str) -> Any:
    import inspect

    kw = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature(
        [
            inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("tables", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter("v", kw),
            inspect.Parameter(arg, kw),
        ]
    )


_string_predicate("hasPrefix", lambda v, p: v.startswith(p), "prefix")
_string_predicate("hasSuffix", lambda v, s: v.endswith(s), "suffix")
_string_predicate("containsStr", lambda v, s: s in v, "substr")
_string_predicate("containsAny", lambda v, chars: any(c in v for c in chars), "chars")
_string_predicate("equalFold", lambda v, t: v.casefold() == t.casefold(), "t")


def _string_map(name: str, change: Callable[[str], Any], out_type: str = STRING) -> None:
    """Register ``strings.<name>(v:)`` mapping one string to a value, with a column-wise version."""

    def scalar(ctx: Context, tables: None, *, v: Any) -> Any:
        text = _text(v, name, "v")
        return None if text is None else change(text)

    def vector(ctx: Context, *, v: Any) -> Any:
        if not isinstance(v, Column):
            return scalar(ctx, None, v=v)
        source = _string_column(v, name, "v")
        values = [None if source.is_null(i) else change(x) for i, x in enumerate(source.values)]
        return Column.from_values(out_type, values)

    builtin(name, package="strings", vector=vector)(scalar)


_string_map("toUpper", str.upper)
_string_map("toLower", str.lower)
_string_map("trimSpace", str.strip)
_string_map("title", str.title)
_string_map("strlen", len, INT)


@builtin("replaceAll", package="strings")
def replace_all(ctx: Context, tables: None, *, v: Any, t: Any, u: Any) -> str | None:
    text = _text(v, "replaceAll", "v")
    old, new = _text(t, "replaceAll", "t"), _text(u, "replaceAll", "u")
    if text is None or old is None or new is None:
        return None
    return text.replace(old, new)


@builtin("substring", package="strings")
def substring(ctx: Context, tables: None, *, v: Any, start: Any, end: Any) -> str | None:
    text = _text(v, "substring", "v")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)):
        raise FluxError("strings.substring(): start and end must be ints")
    return None if text is None else text[max(start, 0) : max(end, 0)]


@builtin("joinStr", package="strings")
def join_str(ctx: Context, tables: None, *, arr: Any, v: Any) -> str:
    if not isinstance(arr, list) or not all(isinstance(x, str) for x in arr) or not isinstance(v, str):
        raise FluxError("strings.joinStr(): arr must be an array of strings and v a string")
    return v.join(arr)


# -- math ------------------------------------------------------------------------------------------------
CONSTANTS = {
    "pi": math.pi,
    "e": math.e,
    "phi": (1 + math.sqrt(5)) / 2,
    "sqrt2": math.sqrt(2),
    "sqrte": math.sqrt(math.e),
    "sqrtpi": math.sqrt(math.pi),
    "sqrtphi": math.sqrt((1 + math.sqrt(5)) / 2),
    "ln2": math.log(2),
    "log2e": 1 / math.log(2),
    "ln10": math.log(10),
    "log10e": 1 / math.log(10),
    "maxfloat": 1.79769313486231570814527423731704356798070e308,
    "smallestNonzeroFloat": 4.9406564584124654417656879286822137236505980e-324,
    "maxint": 2**63 - 1,
    "minint": -(2**63),
    "maxuint": 2**64 - 1,
}
for _name, _value in CONSTANTS.items():
    register_constant(_name, _value, package="math")


def _float_arg(value: Any, fn: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, float):
        return value
    raise FluxError(f"math.{fn}(): x must be a float, got {type_of(value)}")


def _math_unary(
    name: str, scalar_fn: Callable[[float], float], vector_fn: Callable[[np.ndarray], np.ndarray]
) -> None:
    def scalar(ctx: Context, tables: None, *, x: Any) -> float | None:
        value = _float_arg(x, name)
        return None if value is None else float(scalar_fn(value))

    def vector(ctx: Context, *, x: Any) -> Any:
        if not isinstance(x, Column):
            return scalar(ctx, None, x=x)
        if x.type != FLOAT:
            raise FluxError(f"math.{name}(): x must be a float, got {x.type}")
        with np.errstate(all="ignore"):
            return Column(FLOAT, vector_fn(x.values).astype(np.float64), x.nulls)

    builtin(name, package="math", vector=vector)(scalar)


def _round_half_away(x: float) -> float:
    return math.copysign(math.floor(abs(x) + 0.5), x)


_math_unary("abs", abs, np.abs)
_math_unary("floor", math.floor, np.floor)
_math_unary("ceil", math.ceil, np.ceil)
_math_unary("round", _round_half_away, lambda a: np.copysign(np.floor(np.abs(a) + 0.5), a))
_math_unary("trunc", math.trunc, np.trunc)
_math_unary("sqrt", lambda v: math.sqrt(v) if v >= 0 else math.nan, np.sqrt)
_math_unary("log", lambda v: math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan), np.log)
_math_unary("exp", math.exp, np.exp)


@builtin("pow", package="math")
def power(ctx: Context, tables: None, *, x: Any, y: Any) -> float | None:
    base, exponent = _float_arg(x, "pow"), _float_arg(y, "pow")
    if base is None or exponent is None:
        return None
    try:
        return float(base**exponent)
    except (OverflowError, ZeroDivisionError):
        return math.inf
