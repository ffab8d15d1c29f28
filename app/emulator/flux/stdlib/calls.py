"""Calling a Flux function value (a builtin or an arrow function) with tables piped in."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from app.emulator.flux.errors import FluxError
from app.emulator.flux.table import Table
from app.emulator.flux.values import Function, Stream


def call_with_tables(fn: Function, tables: Sequence[Table], caller: str, **named: Any) -> Iterator[Table]:
    """``tables |> fn(**named)``: the output tables (a 400 when ``fn`` does not return a stream)."""
    interp = getattr(fn, "interp", None)
    if interp is None:
        raise FluxError(f"{caller}(): fn must be a function")
    stream = Stream(lambda: iter(list(tables)))
    if hasattr(fn, "spec"):
        result = interp.call_builtin(fn, dict(named), piped=stream)
    else:
        accepted = set(getattr(fn, "params", ()))
        result = interp.call_closure(fn, {k: v for k, v in named.items() if k in accepted}, piped=stream)
    if not isinstance(result, Stream):
        raise FluxError(f"{caller}(): fn must return a stream of tables")
    return result.tables()
