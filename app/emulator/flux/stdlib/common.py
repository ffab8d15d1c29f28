"""Helpers shared by the stdlib builtins: argument checks, group-key edits, merging tables, segment sums."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.table import FLOAT, INT, TIME, UINT, Column, GroupKey, Table, key_sort_value
from app.emulator.flux.values import Duration, Time

NUMERIC = (INT, UINT, FLOAT)


def column_of(table: Table, name: str, fn: str) -> Column:
    """The column ``name`` of ``table``, or a 400 naming the function and the column."""
    column = table.columns.get(name)
    if column is None:
        raise FluxError(f'{fn}(): column "{name}" does not exist')
    return column


def string_list(value: Any, fn: str, arg: str) -> list[str]:
    """An array-of-strings argument (``columns: ["a", "b"]``)."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FluxError(f"{fn}(): argument {arg!r} must be an array of strings")
    return list(value)


def fixed_duration(value: Any, fn: str, arg: str) -> int:
    """A duration argument without a calendar part, in ns."""
    if not isinstance(value, Duration):
        raise FluxError(f"{fn}(): argument {arg!r} must be a duration")
    if value.months:
        raise UnsupportedError(f"{fn}(): a calendar duration ({value}) for {arg!r} is not supported")
    return value.ns


def positive_duration(value: Any, fn: str, arg: str) -> int:
    ns = fixed_duration(value, fn, arg)
    if ns <= 0:
        raise FluxError(f"{fn}(): argument {arg!r} must be a positive duration")
    return ns


def nonnull_values(column: Column) -> np.ndarray:
    """The non-null values of a column."""
    if column.nulls is None:
        return column.values
    return column.values[~column.nulls]


def valid_mask(column: Column) -> np.ndarray:
    if column.nulls is None:
        return np.ones(len(column), dtype=bool)
    return ~column.nulls


RAW_HEAD = ("_start", "_stop", "_time", "_value")
PUSHDOWN_AGGREGATES = frozenset({"count", "sum", "mean", "min", "max", "first", "last"})


def storage_layout(table: Table) -> bool:
    """True when a table still looks as storage returned it (``_start,_stop,_time,_value`` then the
    series' key columns): InfluxDB then computes the usual aggregates inside storage, which answers with
    its own column order (see :func:`pushdown_order`)."""
    names = list(table.columns)
    return tuple(names[:4]) == RAW_HEAD and table.key_names == ("_start", "_stop", *names[4:])


def pushdown_order(columns: dict[str, Column], with_time: bool) -> dict[str, Column]:
    """Storage's column order for a window aggregate: ``_start,_stop[,_time],_value``, then the rest."""
    head = ["_start", "_stop", *(["_time"] if with_time else []), "_value"]
    ordered = {name: columns[name] for name in head if name in columns}
    ordered.update({name: col for name, col in columns.items() if name not in ordered})
    return ordered


def key_without(key: GroupKey, names: Iterable[str]) -> GroupKey:
    drop = set(names)
    return tuple((name, value) for name, value in key if name not in drop)


def key_from_row(table: Table, names: Sequence[str], index: int) -> GroupKey:
    """A group key made of these columns (in table column order) with the values of row ``index``."""
    wanted = set(names)
    return tuple((name, column.value(index)) for name, column in table.columns.items() if name in wanted)


def key_columns(key: GroupKey, table: Table) -> dict[str, Column]:
    """Columns of ``table`` holding the key, one row each (the key's own values)."""
    return {name: Column.constant(table.columns[name].type, value, 1) for name, value in key}


def concat(key: GroupKey, tables: Sequence[Table], fn: str) -> Table:
    """Rows of several tables in one table with ``key``: columns are the union (first-seen order); a
    column missing from a table is null there; the same column with two types is a 400."""
    if len(tables) == 1:
        return Table(key, tables[0].columns)
    types: dict[str, str] = {}
    for table in tables:
        for name, column in table.columns.items():
            known = types.setdefault(name, column.type)
            if known != column.type:
                raise FluxError(
                    f"{fn}(): schema collision: column {name!r} is both {known} and {column.type}"
                )
    columns: dict[str, Column] = {}
    for name, type_ in types.items():
        parts: list[np.ndarray] = []
        nulls: list[np.ndarray] = []
        for table in tables:
            found = table.columns.get(name)
            if found is None:
                filler = Column.constant(type_, None, len(table))
                parts.append(filler.values)
                nulls.append(np.ones(len(table), dtype=bool))
            else:
                parts.append(found.values)
                nulls.append(found.nulls if found.nulls is not None else np.zeros(len(found), dtype=bool))
        values = np.concatenate(parts) if parts else np.empty(0)
        mask = np.concatenate(nulls) if nulls else np.zeros(0, dtype=bool)
        columns[name] = Column(type_, values, mask if mask.any() else None)
    return Table(key, columns)


class Regrouper:
    """Collects tables by group key (merging those with equal keys) and emits them in key order."""

    def __init__(self, fn: str) -> None:
        self.fn = fn
        self._parts: dict[GroupKey, list[Table]] = {}

    def add(self, table: Table) -> None:
        self._parts.setdefault(table.key, []).append(table)

    def tables(self, *, sort: bool = True) -> Iterator[Table]:
        keys = list(self._parts)
        if sort:
            # a key column holding values of two types cannot be ordered: keep first-seen order
            with contextlib.suppress(TypeError):
                keys.sort(key=key_sort_value)
        for key in keys:
            yield concat(key, self._parts[key], self.fn)


def row_codes(table: Table, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """A dense code per row for the values of ``names`` (codes ordered by those values, column by column in
    table order, nulls first) and the first row holding each code."""
    wanted = set(names)
    present = [name for name in table.columns if name in wanted]
    n = len(table)
    codes = np.zeros(n, dtype=np.int64)
    for name in present:
        if name in table.key_names:  # constant over the table
            continue
        column = table.columns[name]
        values = column.values.astype(str) if column.values.dtype == object else column.values
        inverse = np.unique(values, return_inverse=True)[1].astype(np.int64) + 1
        if column.nulls is not None:
            inverse = np.where(column.nulls, 0, inverse)
        # re-number after each column so the combined code stays below n (no overflow)
        codes = np.unique(codes * (int(inverse.max()) + 1) + inverse, return_inverse=True)[1].astype(np.int64)
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return inverse.astype(np.int64), first.astype(np.int64)


def group_rows(table: Table, names: Sequence[str]) -> list[tuple[GroupKey, np.ndarray]]:
    """Split a table's rows by the values of ``names`` (table column order): (key, row positions), in
    key-value order."""
    present = [name for name in table.columns if name in set(names)]
    n = len(table)
    if n == 0:
        return []
    if not present:
        return [((), np.arange(n))]
    codes, first = row_codes(table, present)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(first) + 1))
    lists = {name: table.columns[name].take(first).to_list() for name in present}
    return [
        (tuple((name, lists[name][group]) for name in present), order[bounds[group] : bounds[group + 1]])
        for group in range(len(first))
    ]


def sequential_segment_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sum of ``values[s:e]`` for each segment, adding left to right like Flux does (float64 results are
    bit-identical to a sequential loop, unlike numpy's pairwise ``sum``/``reduceat``)."""
    lengths = ends - starts
    count = len(starts)
    out = np.zeros(count, dtype=np.float64)
    if count == 0:
        return out
    longest = int(lengths.max()) if count else 0
    if longest == 0:
        return out
    data = np.asarray(values, dtype=np.float64)
    if count == 1:  # cumsum accumulates left to right
        return np.cumsum(data[int(starts[0]) : int(ends[0])])[-1:].astype(np.float64)
    if longest * count <= 4 * len(data) + 1024:
        # (longest x count) matrix, padded with zeros; summing over axis 0 adds row by row.
        padded = np.append(data, 0.0)
        offsets = np.arange(longest)[:, None]
        index = starts[None, :] + offsets
        index = np.where(offsets < lengths[None, :], index, len(data))
        return padded[index].sum(axis=0)
    for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        if end > start:
            out[i] = np.cumsum(data[start:end])[-1]
    return out


def expand_segments(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(segment number, row position) of every row of every segment, segment by segment."""
    lengths = (ends - starts).astype(np.int64)
    total = int(lengths.sum())
    seg_of = np.repeat(np.arange(len(starts), dtype=np.int64), lengths)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    rows = np.repeat(starts.astype(np.int64), lengths) + (
        np.arange(total, dtype=np.int64) - np.repeat(first, lengths)
    )
    return seg_of, rows


def as_time(value: Any, fn: str, arg: str) -> Time:
    if not isinstance(value, Time):
        raise FluxError(f"{fn}(): argument {arg!r} must be a time")
    return value


def time_column(table: Table, name: str, fn: str) -> Column:
    column = column_of(table, name, fn)
    if column.type != TIME:
        raise FluxError(f'{fn}(): column "{name}" is {column.type}, not time')
    return column
