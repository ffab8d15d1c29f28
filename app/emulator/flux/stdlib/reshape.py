"""Row and table reshaping: group, sort, tail, top, bottom, distinct, unique, pivot, union."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError
from app.emulator.flux.registry import Context, builtin, require_tables
from app.emulator.flux.stdlib.common import (
    Regrouper,
    column_of,
    concat,
    group_rows,
    row_codes,
    storage_layout,
    string_list,
)
from app.emulator.flux.table import Column, GroupKey, Table
from app.emulator.flux.values import Stream


def _count(value: Any, fn: str, arg: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FluxError(f"{fn}(): {arg} must be a non-negative int")
    return value


# -- group -------------------------------------------------------------------------------------------
@builtin("group")
def group(
    ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None, mode: str = "by"
) -> Iterator[Table]:
    source = require_tables(tables, "group")
    names = string_list(columns if columns is not None else [], "group", "columns")
    if mode not in ("by", "except"):
        raise FluxError('group(): mode must be "by" or "except"')

    def run() -> Iterator[Table]:
        regroup = Regrouper("group")
        for table in source:
            wanted = [c for c in table.columns if (c in names) == (mode == "by")]
            if len(table) == 0:  # no row to read values from: keep what the old key knows
                old = dict(table.key)
                regroup.add(Table(tuple((c, old.get(c)) for c in wanted), table.columns))
                continue
            for key, rows in group_rows(table, wanted):
                part = table if len(rows) == len(table) else table.take(rows)
                regroup.add(Table(key, part.columns))
        yield from regroup.tables()

    return run()


# -- sort, tail, top, bottom -------------------------------------------------------------------------
def _rank(column: Column, desc: bool) -> np.ndarray:
    """Dense ranks that order the column (nulls last ascending, first descending)."""
    values = column.values
    valid = ~column.nulls if column.nulls is not None else np.ones(len(values), dtype=bool)
    ranks = np.zeros(len(values), dtype=np.int64)
    if valid.any():
        present = values[valid]
        _, inverse = np.unique(present, return_inverse=True)
        ranks[valid] = inverse.astype(np.int64)
        top = int(inverse.max()) + 1 if len(inverse) else 0
    else:
        top = 0
    ranks[~valid] = top
    return -ranks if desc else ranks


def sort_order(table: Table, columns: Sequence[str], desc: bool) -> np.ndarray:
    """Row positions in sorted order; stable (equal rows keep their order)."""
    keys = [_rank(table.columns[c], desc) for c in reversed(columns) if c in table.columns]
    if not keys or len(table) < 2:
        return np.arange(len(table))
    return np.lexsort(keys)


def _sort_args(columns: Any, desc: Any, fn: str) -> tuple[list[str], bool]:
    names = string_list(columns, fn, "columns")
    if not isinstance(desc, bool):
        raise FluxError(f"{fn}(): desc must be a bool")
    return names, desc


@builtin("sort")
def sort(
    ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None, desc: Any = False
) -> Iterator[Table]:
    source = require_tables(tables, "sort")
    names, descending = _sort_args(columns if columns is not None else ["_value"], desc, "sort")
    return (table.take(sort_order(table, names, descending)) for table in source)


@builtin("tail")
def tail(ctx: Context, tables: Iterator[Table] | None, *, n: Any, offset: Any = 0) -> Iterator[Table]:
    source = require_tables(tables, "tail")
    count, skip = _count(n, "tail", "n"), _count(offset, "tail", "offset")

    def run() -> Iterator[Table]:
        for table in source:
            stop = max(len(table) - skip, 0)
            yield table.take(slice(max(stop - count, 0), stop))

    return run()


def _top(source: Iterator[Table], n: int, names: list[str], desc: bool) -> Iterator[Table]:
    for table in source:
        if len(table):
            yield table.take(sort_order(table, names, desc)[:n])


@builtin("top")
def top(ctx: Context, tables: Iterator[Table] | None, *, n: Any, columns: Any = None) -> Iterator[Table]:
    source = require_tables(tables, "top")
    names, _ = _sort_args(columns if columns is not None else ["_value"], True, "top")
    return _top(source, _count(n, "top", "n"), names, True)


@builtin("bottom")
def bottom(ctx: Context, tables: Iterator[Table] | None, *, n: Any, columns: Any = None) -> Iterator[Table]:
    source = require_tables(tables, "bottom")
    names, _ = _sort_args(columns if columns is not None else ["_value"], False, "bottom")
    return _top(source, _count(n, "bottom", "n"), names, False)


# -- distinct, unique --------------------------------------------------------------------------------
def _first_occurrences(column: Column) -> np.ndarray:
    """Positions of the first row of each distinct value (null is a value), in row order."""
    if len(column) == 0:
        return np.empty(0, dtype=np.int64)
    values = column.values
    codes = np.unique(values.astype(str) if values.dtype == object else values, return_inverse=True)[1]
    codes = codes.astype(np.int64) + 1
    if column.nulls is not None:
        codes = np.where(column.nulls, 0, codes)
    _, first = np.unique(codes, return_index=True)
    return np.sort(first)


@builtin("distinct")
def distinct(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
    source = require_tables(tables, "distinct")

    def run() -> Iterator[Table]:
        for table in source:
            values = column_of(table, column, "distinct")
            rows = _first_occurrences(values)
            n = len(rows)
            out = {name: Column.constant(table.columns[name].type, value, n) for name, value in table.key}
            out.pop("_value", None)
            out["_value"] = values.take(rows)
            yield Table(tuple((k, v) for k, v in table.key if k != "_value"), out)

    return run()


@builtin("unique")
def unique(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
    source = require_tables(tables, "unique")

    def run() -> Iterator[Table]:
        for table in source:
            yield table.take(_first_occurrences(column_of(table, column, "unique")))

    return run()


# -- pivot ---------------------------------------------------------------------------------------------
def _label_part(value: Any) -> str:
    """A column-key value as Flux's pivot spells it in the new column's label."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):  # Go's FormatFloat(v, 'E', -1, 64)
        if math.isnan(value) or math.isinf(value):
            return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        return np.format_float_scientific(value, unique=True, trim="-", exp_digits=2).upper()
    return str(value)


def _first_seen(codes: np.ndarray, firsts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Renumber dense codes so that code 0 is the one seen first, and so on."""
    order = np.argsort(firsts, kind="stable")
    rank = np.empty(len(firsts), dtype=np.int64)
    rank[order] = np.arange(len(firsts))
    return rank[codes], firsts[order]


def _sorted_pivot(parts: list[Table], row_key: list[str], col_key: list[str]) -> bool:
    """InfluxDB runs its sorted pivot when pivot reads straight from storage with ``rowKey: ["_time"]``
    and one column key that is a group-key column: ``_time`` first, then the key columns, then the new
    columns in label order, rows in time order."""
    return (
        row_key == ["_time"]
        and len(col_key) == 1
        and col_key[0] not in ("_time", "_value")
        and all(storage_layout(part) and col_key[0] in part.key_names for part in parts)
    )


def _pivot_group(
    key: GroupKey, parts: list[Table], row_key: list[str], col_key: list[str], value: str
) -> Table:
    """One output table from the input tables sharing ``key`` (the input key minus columnKey/valueColumn):
    the key and row-key columns (table order), then one column per column-key value, both rows and new
    columns in the order first seen (as Flux's pivot builds them); the last value of a cell wins. Input
    straight from storage gets InfluxDB's sorted pivot instead (see :func:`_sorted_pivot`)."""
    sorted_mode = _sorted_pivot(parts, row_key, col_key)
    for part in parts:
        for name in [*row_key, *col_key, value]:
            column_of(part, name, "pivot")
    drop = set(col_key) | {value}
    # everything but the value column in one table (the value column may change type between parts)
    merged = concat(key, [part.select([c for c in part.columns if c != value]) for part in parts], "pivot")
    keep = [c for c in merged.columns if c not in drop and (c in merged.key_names or c in row_key)]
    codes, firsts = row_codes(merged, row_key)  # codes in row-key order
    row_of, firsts = (codes, firsts) if sorted_mode else _first_seen(codes, firsts)
    n_out = len(firsts)
    out: dict[str, Column] = {name: merged.columns[name].take(firsts) for name in keep}
    built: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    offset = 0
    for part in parts:
        source = part.columns[value]
        codes, label_rows = _first_seen(*row_codes(part, col_key))
        label_lists = {c: part.columns[c].take(label_rows).to_list() for c in col_key}
        for code in range(len(label_rows)):
            label = "_".join(_label_part(label_lists[c][code]) for c in col_key)
            rows = np.flatnonzero(codes == code) if len(label_rows) > 1 else np.arange(len(part))
            if label not in built:
                filler = Column.constant(source.type, None, n_out)
                built[label] = (filler.values.copy(), np.ones(n_out, dtype=bool), source.type)
            values, nulls, type_ = built[label]
            if type_ != source.type:
                raise FluxError(
                    f"pivot(): schema collision: column {label!r} is both {type_} and {source.type}"
                )
            targets = row_of[offset + rows]
            values[targets] = source.values[rows]
            nulls[targets] = source.nulls[rows] if source.nulls is not None else False
        offset += len(part)
    if sorted_mode:
        out = {name: out[name] for name in [*row_key, *(k for k, _ in key)]}
    for label in sorted(built) if sorted_mode else built:
        values, nulls, type_ = built[label]
        out[label] = Column(type_, values, nulls if nulls.any() else None)
    return Table(key, out)


@builtin("pivot")
def pivot(
    ctx: Context, tables: Iterator[Table] | None, *, rowKey: Any, columnKey: Any, valueColumn: str
) -> Iterator[Table]:
    source = require_tables(tables, "pivot")
    row_key = string_list(rowKey, "pivot", "rowKey")
    col_key = string_list(columnKey, "pivot", "columnKey")
    if not col_key:
        raise FluxError("pivot(): columnKey must name at least one column")
    if not isinstance(valueColumn, str):
        raise FluxError("pivot(): valueColumn must be a string")
    dropped = set(col_key) | {valueColumn}

    def run() -> Iterator[Table]:
        groups: dict[GroupKey, list[Table]] = {}
        for table in source:
            key = tuple((k, v) for k, v in table.key if k not in dropped)
            groups.setdefault(key, []).append(table)
        for key, parts in groups.items():
            yield _pivot_group(key, parts, row_key, col_key, valueColumn)

    return run()


# -- union -------------------------------------------------------------------------------------------
@builtin("union")
def union(ctx: Context, piped: Any, /, *, tables: Any) -> Iterator[Table]:
    """``union(tables: [a, b, ...])``: the tables of every stream; tables with the same group key are
    merged (rows stream by stream, the union of their columns), output in group-key order."""
    if not isinstance(tables, list) or len(tables) < 2 or not all(isinstance(s, Stream) for s in tables):
        raise FluxError("union(): tables must be an array of at least two streams of tables")
    streams: list[Stream] = list(tables)

    def run() -> Iterator[Table]:
        regroup = Regrouper("union")
        for stream in streams:
            for table in stream.tables():
                regroup.add(table)
        yield from regroup.tables()

    return run()
