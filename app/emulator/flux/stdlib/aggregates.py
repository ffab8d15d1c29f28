"""Aggregates (mean, sum, count, spread, median, quantile) and selectors (min, max), vectorised over
segments of rows so ``aggregateWindow`` can run them over every window of a table in one pass.

Flux semantics kept: an aggregate outputs one row per table holding the group-key columns (key order)
and the aggregated column (same name); ``mean``/``median``/``quantile`` give floats, ``sum``/``spread``
keep int/uint/float, ``count`` gives an int and counts null rows too; nulls are skipped otherwise and an
empty (or all-null) input gives null (``count``: 0). Selectors return the whole first row holding the
min/max and return nothing for an empty table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.registry import Context, builtin, require_tables
from app.emulator.flux.stdlib.common import (
    NUMERIC,
    PUSHDOWN_AGGREGATES,
    column_of,
    expand_segments,
    key_columns,
    pushdown_order,
    sequential_segment_sums,
    storage_layout,
)
from app.emulator.flux.stdlib.tdigest import exact_mean_quantile, exact_selector_index, tdigest_quantile
from app.emulator.flux.table import FLOAT, INT, UINT, Column, Table

Segments = tuple[np.ndarray, np.ndarray]  # starts, ends (row positions, end exclusive)


def _require_numeric(column: Column, fn: str, name: str) -> None:
    if column.type not in NUMERIC:
        raise FluxError(f'{fn}(): unsupported aggregate column type {column.type} (column "{name}")')


def _null_result(type_: str, empty: np.ndarray, values: np.ndarray) -> Column:
    return Column(type_, values, empty if empty.any() else None)


def _counts(column: Column, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    if column.nulls is None:
        return (ends - starts).astype(np.int64)
    valid = np.concatenate([[0], np.cumsum(~column.nulls)])
    return (valid[ends] - valid[starts]).astype(np.int64)


def _zeroed(column: Column) -> np.ndarray:
    if column.nulls is None:
        return column.values
    return np.where(column.nulls, column.values.dtype.type(0), column.values)


def agg_mean(column: Column, segs: Segments) -> Column:
    starts, ends = segs
    counts = _counts(column, starts, ends)
    sums = sequential_segment_sums(_zeroed(column).astype(np.float64), starts, ends)
    empty = counts == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(empty, 0.0, sums / np.maximum(counts, 1))
    return _null_result(FLOAT, empty, means)


def agg_sum(column: Column, segs: Segments) -> Column:
    starts, ends = segs
    counts = _counts(column, starts, ends)
    empty = counts == 0
    if column.type == FLOAT:
        return _null_result(FLOAT, empty, sequential_segment_sums(_zeroed(column), starts, ends))
    dtype = np.uint64 if column.type == UINT else np.int64
    totals = np.concatenate([np.zeros(1, dtype=dtype), np.cumsum(_zeroed(column).astype(dtype))])
    with np.errstate(over="ignore"):
        sums = totals[ends] - totals[starts]
    return _null_result(column.type, empty, sums.astype(dtype))


def agg_count(column: Column, segs: Segments) -> Column:
    starts, ends = segs
    return Column(INT, (ends - starts).astype(np.int64))


def _extreme(column: Column, segs: Segments, largest: bool) -> np.ndarray:
    """Row position of the first min (or max) non-null value of each segment; -1 when none."""
    starts, ends = segs
    out = np.full(len(starts), -1, dtype=np.int64)
    if len(column) == 0:
        return out
    seg_of, rows = expand_segments(starts, ends)
    values = column.values[rows]
    keep = np.ones(len(rows), dtype=bool)
    if column.nulls is not None:
        keep &= ~column.nulls[rows]
    if column.type == FLOAT:
        keep &= ~np.isnan(values.astype(np.float64))
    rows, values, seg_of = rows[keep], values[keep], seg_of[keep]
    if len(rows) == 0:
        return out
    if largest:
        order = np.lexsort((-rows, values, seg_of))
        last = np.flatnonzero(np.append(seg_of[order][1:] != seg_of[order][:-1], True))
        out[seg_of[order][last]] = rows[order][last]
    else:
        order = np.lexsort((rows, values, seg_of))
        first = np.flatnonzero(np.insert(seg_of[order][1:] != seg_of[order][:-1], 0, True))
        out[seg_of[order][first]] = rows[order][first]
    return out


def sel_min(column: Column, segs: Segments) -> np.ndarray:
    return _extreme(column, segs, largest=False)


def sel_max(column: Column, segs: Segments) -> np.ndarray:
    return _extreme(column, segs, largest=True)


def _valid_positions(column: Column, segs: Segments, last: bool) -> np.ndarray:
    starts, ends = segs
    if column.nulls is None:
        return np.where(ends > starts, ends - 1 if last else starts, -1).astype(np.int64)
    out = np.full(len(starts), -1, dtype=np.int64)
    valid = np.flatnonzero(~column.nulls)
    lo = np.searchsorted(valid, starts, side="left")
    hi = np.searchsorted(valid, ends, side="left")
    has = hi > lo
    pick = (hi - 1) if last else lo
    out[has] = valid[pick[has]]
    return out


def sel_first(column: Column, segs: Segments) -> np.ndarray:
    return _valid_positions(column, segs, last=False)


def sel_last(column: Column, segs: Segments) -> np.ndarray:
    return _valid_positions(column, segs, last=True)


def agg_spread(column: Column, segs: Segments) -> Column:
    lo, hi = sel_min(column, segs), sel_max(column, segs)
    empty = lo < 0
    values = column.values
    low = np.where(empty, 0, values[np.maximum(lo, 0)]) if len(values) else np.zeros(len(lo))
    high = np.where(empty, 0, values[np.maximum(hi, 0)]) if len(values) else np.zeros(len(hi))
    dtype = {INT: np.int64, UINT: np.uint64, FLOAT: np.float64}[column.type]
    with np.errstate(over="ignore"):
        result = (high.astype(dtype) - low.astype(dtype)).astype(dtype)
    return _null_result(column.type, empty, result)


def _per_segment(column: Column, segs: Segments, compute: Callable[[np.ndarray], float | None]) -> Column:
    results: list[float | None] = []
    valid = ~column.nulls if column.nulls is not None else None
    for start, end in zip(segs[0].tolist(), segs[1].tolist(), strict=True):
        data = column.values[start:end]
        if valid is not None:
            data = data[valid[start:end]]
        results.append(compute(data.astype(np.float64)) if len(data) else None)
    return Column.from_values(FLOAT, results)


def quantile_agg(q: float, method: str, compression: float) -> Callable[[Column, Segments], Column]:
    if method == "estimate_tdigest":
        return lambda column, segs: _per_segment(column, segs, lambda d: tdigest_quantile(d, q, compression))
    if method == "exact_mean":
        return lambda column, segs: _per_segment(column, segs, lambda d: exact_mean_quantile(d, q))
    raise FluxError(f"quantile(): unknown method {method!r}")


def quantile_selector(q: float) -> Callable[[Column, Segments], np.ndarray]:
    def select(column: Column, segs: Segments) -> np.ndarray:
        out = np.full(len(segs[0]), -1, dtype=np.int64)
        for i, (start, end) in enumerate(zip(segs[0].tolist(), segs[1].tolist(), strict=True)):
            rows = np.arange(start, end)
            if column.nulls is not None:
                rows = rows[~column.nulls[start:end]]
            if len(rows):
                order = rows[np.argsort(column.values[rows], kind="stable")]
                out[i] = order[exact_selector_index(len(order), q)]
        return out

    return select


@dataclass(frozen=True)
class Reducer:
    """One aggregate or selector: ``aggregate(column, segments) -> Column`` (one value per segment) or
    ``select(column, segments) -> row positions`` (-1: none)."""

    name: str
    aggregate: Callable[[Column, Segments], Column] | None = None
    select: Callable[[Column, Segments], np.ndarray] | None = None
    numeric_only: bool = True

    def check(self, column: Column, name: str) -> None:
        if self.numeric_only:
            _require_numeric(column, self.name, name)


REDUCERS: dict[str, Reducer] = {
    "mean": Reducer("mean", aggregate=agg_mean),
    "sum": Reducer("sum", aggregate=agg_sum),
    "count": Reducer("count", aggregate=agg_count, numeric_only=False),
    "spread": Reducer("spread", aggregate=agg_spread),
    "median": Reducer("median", aggregate=quantile_agg(0.5, "estimate_tdigest", 0.0)),
    "min": Reducer("min", select=sel_min),
    "max": Reducer("max", select=sel_max),
    "first": Reducer("first", select=sel_first, numeric_only=False),
    "last": Reducer("last", select=sel_last, numeric_only=False),
}


def reduce_table(table: Table, reducer: Reducer, column: str) -> Table | None:
    """Apply ``reducer`` to a whole table: an aggregate row, a selected row, or None (nothing selected)."""
    source = column_of(table, column, reducer.name)
    if column in table.key_names:
        raise FluxError(f'{reducer.name}(): cannot aggregate group key column "{column}"')
    reducer.check(source, column)
    segs = (np.array([0]), np.array([len(table)]))
    if reducer.aggregate is not None:
        result = reducer.aggregate(source, segs)
        columns = {**key_columns(table.key, table), column: result}
        if column == "_value" and reducer.name in PUSHDOWN_AGGREGATES and storage_layout(table):
            columns = pushdown_order(columns, with_time=False)  # as InfluxDB's storage answers
        return Table(table.key, columns)
    assert reducer.select is not None
    position = int(reducer.select(source, segs)[0])
    if position < 0:
        return None
    return table.take(np.array([position]))


def run_reducer(tables: Iterator[Table], reducer: Reducer, column: str) -> Iterator[Table]:
    for table in tables:
        out = reduce_table(table, reducer, column)
        if out is not None:
            yield out


def _register(name: str) -> None:
    reducer = REDUCERS[name]

    def fn(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
        return run_reducer(require_tables(tables, name), reducer, column)

    fn.__name__ = f"flux_{name}"
    builtin(name)(fn)


for _name in ("mean", "sum", "count", "spread", "min", "max"):
    _register(_name)


def _quantile_reducer(q: Any, method: Any, compression: Any, fn: str) -> Reducer:
    if not isinstance(q, int | float) or isinstance(q, bool) or not 0 <= q <= 1:
        raise FluxError(f"{fn}(): q must be a float between 0 and 1")
    if not isinstance(compression, int | float):
        raise FluxError(f"{fn}(): compression must be a float")
    if method == "exact_selector":
        return Reducer(fn, select=quantile_selector(float(q)))
    if method not in ("estimate_tdigest", "exact_mean"):
        raise UnsupportedError(f"{fn}(): method {method!r} is not supported")
    return Reducer(fn, aggregate=quantile_agg(float(q), str(method), float(compression)))


@builtin("median")
def median(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    column: str = "_value",
    method: str = "estimate_tdigest",
    compression: float = 0.0,
) -> Iterator[Table]:
    reducer = _quantile_reducer(0.5, method, compression, "median")
    return run_reducer(require_tables(tables, "median"), reducer, column)


@builtin("quantile")
def quantile(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    q: float,
    column: str = "_value",
    method: str = "estimate_tdigest",
    compression: float = 0.0,
) -> Iterator[Table]:
    reducer = _quantile_reducer(q, method, compression, "quantile")
    return run_reducer(require_tables(tables, "quantile"), reducer, column)
