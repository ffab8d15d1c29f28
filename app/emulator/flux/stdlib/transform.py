"""Row-wise transformations: map, fill, difference, derivative, elapsed, cumulativeSum."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError
from app.emulator.flux.registry import Context, builtin, require_tables
from app.emulator.flux.rowfn import map_columns
from app.emulator.flux.stdlib.common import (
    NUMERIC,
    Regrouper,
    column_of,
    group_rows,
    positive_duration,
    string_list,
    time_column,
)
from app.emulator.flux.table import BOOL, FLOAT, INT, STRING, TIME, UINT, Column, Table
from app.emulator.flux.values import Duration, Function, Time, type_of


# -- map -----------------------------------------------------------------------------------------------
def _mapped(ctx: Context, fn: Function, table: Table) -> list[Table]:
    produced = map_columns(ctx, fn, table)
    n = len(table)
    columns = {name: produced[name] for name in sorted(produced)}  # Flux orders map output by label
    for name, column in columns.items():
        if column.values.ndim == 0:  # a value the evaluator left unbroadcast
            filler = np.empty(n, dtype=column.values.dtype)
            filler[:] = column.values.item()
            columns[name] = column = Column(column.type, filler, column.nulls)
        if len(column) != n:
            raise FluxError(f"map(): column {name} has {len(column)} rows, expected {n}")
    kept = [name for name in columns if name in set(table.key_names)]
    out = Table((), columns)
    if n == 0:
        return [Table(tuple((k, v) for k, v in table.key if k in columns), columns)]
    original = dict(table.key)
    unchanged = all(
        not columns[name].has_nulls()
        and columns[name].type == table.columns[name].type
        and _all_equal(columns[name], original[name])
        for name in kept
    )
    if unchanged:
        return [Table(tuple((name, original[name]) for name in kept), columns)]
    return [Table(key, out.take(rows).columns) for key, rows in group_rows(out, kept)]


def _all_equal(column: Column, value: Any) -> bool:
    raw = value.ns if isinstance(value, Time) else value
    try:
        return bool(np.all(column.values == raw))
    except (TypeError, ValueError):
        return False


@builtin("map")
def map_(ctx: Context, tables: Iterator[Table] | None, *, fn: Any, mergeKey: Any = False) -> Iterator[Table]:
    source = require_tables(tables, "map")
    if not isinstance(fn, Function):
        raise FluxError(f"map(): fn must be a function, got {type_of(fn)}")

    def run() -> Iterator[Table]:
        regroup = Regrouper("map")
        for table in source:
            for out in _mapped(ctx, fn, table):
                regroup.add(out)
        yield from regroup.tables(sort=False)

    return run()


# -- fill ----------------------------------------------------------------------------------------------
_FILL_TYPES = {INT: (int,), UINT: (int,), FLOAT: (float,), STRING: (str,), BOOL: (bool,), TIME: (Time,)}


def _fill_check(column: Column, value: Any, name: str) -> None:
    allowed = _FILL_TYPES.get(column.type, ())
    ok = isinstance(value, allowed) and not (column.type in (INT, UINT, FLOAT) and isinstance(value, bool))
    if not ok:
        raise FluxError(
            f'fill(): value type {type_of(value)} does not match the type {column.type} of column "{name}"'
        )


@builtin("fill")
def fill(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    column: str = "_value",
    value: Any = None,
    usePrevious: Any = False,
) -> Iterator[Table]:
    source = require_tables(tables, "fill")
    if not isinstance(usePrevious, bool):
        raise FluxError("fill(): usePrevious must be a bool")
    if (value is None) == (not usePrevious):
        raise FluxError("fill(): give exactly one of value or usePrevious: true")

    def run() -> Iterator[Table]:
        for table in source:
            target = column_of(table, column, "fill")
            if target.nulls is None or not target.nulls.any():
                if value is not None:
                    _fill_check(target, value, column)
                yield table
                continue
            if usePrevious:
                positions = np.where(~target.nulls, np.arange(len(target)), -1)
                last = np.maximum.accumulate(positions)
                values = target.values[np.maximum(last, 0)]
                nulls = last < 0
                filled = Column(target.type, values, nulls if nulls.any() else None)
            else:
                _fill_check(target, value, column)
                raw = value.ns if isinstance(value, Time) else value
                values = target.values.copy()
                values[target.nulls] = raw
                filled = Column(target.type, values)
            yield table.with_column(column, filled)

    return run()


# -- difference, derivative ------------------------------------------------------------------------------
def _previous_valid(valid: np.ndarray) -> np.ndarray:
    """For each row, the position of the last non-null row before it (-1 when none)."""
    positions = np.where(valid, np.arange(len(valid)), -1)
    running = np.maximum.accumulate(positions) if len(valid) else positions
    return np.concatenate([[-1], running[:-1]]).astype(np.int64)


def _numeric(table: Table, name: str, fn: str) -> Column:
    column = column_of(table, name, fn)
    if column.type not in NUMERIC:
        raise FluxError(f'{fn}(): unsupported column type {column.type} (column "{name}")')
    return column


def _bool_arg(value: Any, fn: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise FluxError(f"{fn}(): {name} must be a bool")
    return value


def _difference(column: Column, non_negative: bool, initial_zero: bool) -> Column:
    valid = ~column.nulls if column.nulls is not None else np.ones(len(column), dtype=bool)
    prev = _previous_valid(valid)
    has_prev = valid & (prev >= 0)
    out_type = FLOAT if column.type == FLOAT else INT
    dtype = np.float64 if out_type == FLOAT else np.int64
    current = column.values.astype(dtype)
    before = current[np.maximum(prev, 0)]
    with np.errstate(over="ignore"):
        diff = current - before
    nulls = ~has_prev
    if non_negative:
        negative = has_prev & (diff < 0)
        if initial_zero:
            diff = np.where(negative, current, diff)
            nulls |= negative & (current < 0)
        else:
            nulls |= negative
    return Column(out_type, np.where(nulls, dtype(0), diff).astype(dtype), nulls if nulls.any() else None)


@builtin("difference")
def difference(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    nonNegative: Any = False,
    columns: Any = None,
    keepFirst: Any = False,
    initialZero: Any = False,
) -> Iterator[Table]:
    source = require_tables(tables, "difference")
    names = string_list(columns if columns is not None else ["_value"], "difference", "columns")
    non_negative = _bool_arg(nonNegative, "difference", "nonNegative")
    keep_first = _bool_arg(keepFirst, "difference", "keepFirst")
    initial_zero = _bool_arg(initialZero, "difference", "initialZero")

    def run() -> Iterator[Table]:
        for table in source:
            out = table
            for name in names:
                out = out.with_column(
                    name, _difference(_numeric(table, name, "difference"), non_negative, initial_zero)
                )
            yield out if keep_first else out.take(slice(1, None))

    return run()


def _derivative(
    column: Column, times: np.ndarray, unit_ns: int, non_negative: bool, initial_zero: bool
) -> Column:
    valid = ~column.nulls if column.nulls is not None else np.ones(len(column), dtype=bool)
    prev = _previous_valid(valid)
    has_prev = valid & (prev >= 0)
    current = column.values.astype(np.float64)
    before = current[np.maximum(prev, 0)]
    elapsed = (times - times[np.maximum(prev, 0)]).astype(np.float64) / float(unit_ns)
    nulls = ~has_prev | (elapsed == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = (current - before) / np.where(elapsed == 0, 1.0, elapsed)
        if non_negative:
            negative = ~nulls & (rate < 0)
            if initial_zero:
                rate = np.where(negative, current / np.where(elapsed == 0, 1.0, elapsed), rate)
                nulls |= negative & (current < 0)
            else:
                nulls |= negative
    return Column(FLOAT, np.where(nulls, 0.0, rate), nulls if nulls.any() else None)


@builtin("derivative")
def derivative(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    unit: Any = None,
    nonNegative: Any = False,
    columns: Any = None,
    timeColumn: str = "_time",
    initialZero: Any = False,
) -> Iterator[Table]:
    source = require_tables(tables, "derivative")
    unit_ns = positive_duration(
        unit if unit is not None else Duration(0, 1_000_000_000), "derivative", "unit"
    )
    names = string_list(columns if columns is not None else ["_value"], "derivative", "columns")
    non_negative = _bool_arg(nonNegative, "derivative", "nonNegative")
    initial_zero = _bool_arg(initialZero, "derivative", "initialZero")

    def run() -> Iterator[Table]:
        for table in source:
            times = time_column(table, timeColumn, "derivative")
            if times.has_nulls():
                raise FluxError(f'derivative(): column "{timeColumn}" has null values')
            out = table
            for name in names:
                rates = _derivative(
                    _numeric(table, name, "derivative"), times.values, unit_ns, non_negative, initial_zero
                )
                out = out.with_column(name, rates)
            yield out.take(slice(1, None))

    return run()


# -- elapsed, cumulativeSum ---------------------------------------------------------------------------------
@builtin("elapsed")
def elapsed(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    unit: Any = None,
    timeColumn: str = "_time",
    columnName: str = "elapsed",
) -> Iterator[Table]:
    source = require_tables(tables, "elapsed")
    unit_ns = positive_duration(unit if unit is not None else Duration(0, 1_000_000_000), "elapsed", "unit")

    def run() -> Iterator[Table]:
        for table in source:
            times = time_column(table, timeColumn, "elapsed")
            if times.has_nulls():
                raise FluxError(f'elapsed(): column "{timeColumn}" has null values')
            gaps = np.diff(times.values)
            values = np.sign(gaps) * (np.abs(gaps) // unit_ns)
            rest = table.take(slice(1, None))
            columns = {name: col for name, col in rest.columns.items() if name != columnName}
            columns[columnName] = Column(INT, values.astype(np.int64))
            yield Table(rest.key, columns)

    return run()


@builtin("cumulativeSum")
def cumulative_sum(ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None) -> Iterator[Table]:
    source = require_tables(tables, "cumulativeSum")
    names = string_list(columns if columns is not None else ["_value"], "cumulativeSum", "columns")

    def run() -> Iterator[Table]:
        for table in source:
            out = table
            for name in names:
                column = _numeric(table, name, "cumulativeSum")
                zeroed = column.values if column.nulls is None else np.where(column.nulls, 0, column.values)
                with np.errstate(over="ignore"):
                    sums = np.cumsum(zeroed.astype(column.values.dtype))
                out = out.with_column(name, Column(column.type, sums, column.nulls))
            yield out

    return run()
