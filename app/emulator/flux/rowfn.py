"""Row functions for builtins: ``filter``-style masks and ``map``-style records, vectorised when
possible (app.emulator.flux.vector) and row by row otherwise."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError
from app.emulator.flux.operators import truthy
from app.emulator.flux.registry import Context
from app.emulator.flux.table import BOOL, Column, Table, column_type_of
from app.emulator.flux.values import Function, type_of
from app.emulator.flux.vector import NotVectorizable, broadcast, evaluate


def _vector(fn: Function, table: Table) -> Any:
    from app.emulator.flux.interpreter import Closure

    if not isinstance(fn, Closure):
        raise NotVectorizable("not a closure")
    return evaluate(fn, table)


def filter_mask(ctx: Context, fn: Function, table: Table) -> np.ndarray:
    """Rows for which ``fn(r)`` is true (null counts as false)."""
    n = len(table)
    try:
        result = _vector(fn, table)
    except NotVectorizable:
        return np.fromiter((truthy(fn.call(r=row), "filter") for row in table.rows()), dtype=bool, count=n)
    if isinstance(result, Column):
        if result.type != BOOL:
            raise FluxError(f"filter(): fn must return a bool, got {result.type}")
        mask = result.values.astype(bool)
        return mask & ~result.nulls if result.nulls is not None else mask
    return np.full(n, truthy(result, "filter"), dtype=bool)


def map_columns(ctx: Context, fn: Function, table: Table) -> dict[str, Column]:
    """``fn(r)`` must return a record; its properties become columns (in record order)."""
    n = len(table)
    try:
        result = _vector(fn, table)
    except NotVectorizable:
        return _columns_from_records([fn.call(r=row) for row in table.rows()])
    if not isinstance(result, dict):
        raise FluxError(f"map(): fn must return a record, got {type_of(result)}")
    return {
        name: broadcast(value, n)
        if value is not None
        else Column.constant(table.columns[name].type if name in table.columns else "string", None, n)
        for name, value in result.items()
    }


def _columns_from_records(records: list[Any]) -> dict[str, Column]:
    names: dict[str, str | None] = {}
    for record in records:
        if not isinstance(record, dict):
            raise FluxError(f"map(): fn must return a record, got {type_of(record)}")
        for name, value in record.items():
            kind = column_type_of(value) if value is not None else None
            known = names.get(name)
            if known is None:
                names[name] = kind
            elif kind is not None and kind != known:
                raise FluxError(f"map(): column {name} changes type from {known} to {kind}")
    return {
        name: Column.from_values(kind or "string", [record.get(name) for record in records])
        for name, kind in names.items()
    }
