"""window(), aggregateWindow(), truncateTimeColumn() and date.truncate().

``aggregateWindow(every, fn)`` is Flux's ``window |> fn(column) |> duplicate(timeSrc, as: timeDst) |>
window(every: inf)``: one output table per input table (same group key, ``_start``/``_stop`` of the
range), the aggregated column, then the window's ``timeSrc`` bound as ``timeDst`` (appended last; in
storage's ``_start,_stop,_time,_value,...`` order when InfluxDB would compute it in storage, see
:func:`_layout`). For the builtin aggregates and selectors it runs in one vectorised pass over each
table; any other ``fn`` (an arrow function, ``quantile`` with arguments...) goes through real window
tables.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.registry import Context, builtin, lookup, require_tables
from app.emulator.flux.stdlib.aggregates import REDUCERS, Reducer
from app.emulator.flux.stdlib.calls import call_with_tables
from app.emulator.flux.stdlib.common import (
    PUSHDOWN_AGGREGATES,
    Regrouper,
    column_of,
    concat,
    pushdown_order,
    storage_layout,
    time_column,
)
from app.emulator.flux.stdlib.windowing import Windows, WindowSpec, compute_windows, truncate_ns
from app.emulator.flux.table import TIME, Column, GroupKey, Table
from app.emulator.flux.values import Duration, Function, Time


def table_bounds(table: Table, start: str = "_start", stop: str = "_stop") -> tuple[int, int] | None:
    """The range of a table: its ``_start``/``_stop`` key values (or columns), in ns."""
    names = table.key_names
    if start in names and stop in names:
        lo, hi = table.key_value(start), table.key_value(stop)
        if isinstance(lo, Time) and isinstance(hi, Time):
            return lo.ns, hi.ns
    first, last = table.columns.get(start), table.columns.get(stop)
    if first is None or last is None or first.type != TIME or last.type != TIME or not len(table):
        return None
    if not first.has_nulls() and not last.has_nulls():
        return int(first.values.min()), int(last.values.max())
    return None


def sorted_by_time(table: Table, time_col: str, fn: str) -> Table:
    times = time_column(table, time_col, fn)
    if times.has_nulls():
        table = table.take(~times.nulls)  # type: ignore[operator]
        times = table.columns[time_col]
    values = times.values
    if len(values) > 1 and not bool(np.all(values[1:] >= values[:-1])):
        table = table.take(np.argsort(values, kind="stable"))
    return table


def _set_bounds(table: Table, names: tuple[str, str], start_ns: int, stop_ns: int) -> Table:
    """Put window bounds in the start/stop columns (kept in place, or appended) and in the group key."""
    n = len(table)
    columns = dict(table.columns)
    columns[names[0]] = Column(TIME, np.full(n, start_ns, dtype=np.int64))
    columns[names[1]] = Column(TIME, np.full(n, stop_ns, dtype=np.int64))
    values = dict(table.key)
    values[names[0]], values[names[1]] = Time(start_ns), Time(stop_ns)
    key_names = set(table.key_names) | set(names)
    return Table(tuple((name, values[name]) for name in columns if name in key_names), columns)


def window_tables(
    table: Table, spec: WindowSpec, time_col: str, names: tuple[str, str], create_empty: bool
) -> Iterator[Table]:
    """The window tables of one input table, in window order (empty ones only with ``create_empty``)."""
    ordered = sorted_by_time(table, time_col, spec.fn)
    times = ordered.columns[time_col].values
    windows = compute_windows(spec, times, table_bounds(table, *names), create_empty)
    for i in range(len(windows)):
        part = ordered.take(slice(int(windows.lo[i]), int(windows.hi[i])))
        yield _set_bounds(part, names, int(windows.starts[i]), int(windows.stops[i]))


@builtin("window")
def window(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    every: Duration | None = None,
    period: Duration | None = None,
    offset: Duration | None = None,
    timeColumn: str = "_time",
    startColumn: str = "_start",
    stopColumn: str = "_stop",
    createEmpty: bool = False,
    location: Any = None,
) -> Iterator[Table]:
    source = require_tables(tables, "window")
    if location is not None:
        raise UnsupportedError("window(): the location argument is not supported")
    if every is None and period is None:
        raise FluxError("window(): give every or period")
    spec = WindowSpec.build(every if every is not None else period, period, offset, "window")

    def run() -> Iterator[Table]:
        regroup = Regrouper("window")
        for table in source:
            for part in window_tables(table, spec, timeColumn, (startColumn, stopColumn), createEmpty):
                regroup.add(part)
        yield from regroup.tables()

    return run()


def _fast_reducer(fn: Any) -> Reducer | None:
    spec = getattr(fn, "spec", None)
    if spec is None or spec.package is not None or spec.name not in REDUCERS:
        return None
    registered = lookup(spec.name)
    if registered is None or registered.fn is not spec.fn:
        return None
    return REDUCERS[spec.name]


def _fast_table(table: Table, spec: WindowSpec, reducer: Reducer, args: dict[str, Any]) -> Table | None:
    column, time_src, time_dst = args["column"], args["timeSrc"], args["timeDst"]
    bounds = table_bounds(table)
    ordered = sorted_by_time(table, "_time", "aggregateWindow")
    source = column_of(ordered, column, "aggregateWindow")
    reducer.check(source, column)
    windows: Windows = compute_windows(spec, ordered.columns["_time"].values, bounds, args["createEmpty"])
    segs = (windows.lo, windows.hi)
    stamps = windows.stops if time_src == "_stop" else windows.starts
    key = _output_key(table, bounds)
    if reducer.aggregate is not None:
        if column in table.key_names:
            raise FluxError(f'aggregateWindow(): cannot aggregate group key column "{column}"')
        n = len(windows)
        columns = {name: Column.constant(ordered.columns[name].type, value, n) for name, value in key}
        columns[column] = reducer.aggregate(source, segs)
        columns.pop(time_dst, None)
        columns[time_dst] = Column(TIME, stamps.astype(np.int64))
        return Table(
            tuple((k, v) for k, v in key if k != time_dst), _layout(table, spec, reducer, args, columns)
        )
    assert reducer.select is not None
    picks = reducer.select(source, segs)
    keep = picks >= 0
    rows = ordered.take(picks[keep])
    columns = {name: col for name, col in rows.columns.items() if name != time_dst}
    count = int(keep.sum())
    for name, value in key:  # the range bounds, also when they were not in the key
        if name in ("_start", "_stop"):
            columns[name] = Column.constant(TIME, value, count)
    columns[time_dst] = Column(TIME, stamps[keep].astype(np.int64))
    return Table(tuple((k, v) for k, v in key if k != time_dst), _layout(table, spec, reducer, args, columns))


def _layout(
    table: Table, spec: WindowSpec, reducer: Reducer, args: dict[str, Any], columns: dict[str, Column]
) -> dict[str, Column]:
    """InfluxDB computes ``aggregateWindow`` inside storage when the input comes straight from storage
    and the call is one it can push down; storage then answers ``_start,_stop,_time,_value,<series key>``.
    Otherwise Flux's own order stands: key columns, the value, then ``timeDst`` last."""
    pushable = (
        reducer.name in PUSHDOWN_AGGREGATES
        and args["column"] == "_value"
        and args["timeDst"] == "_time"
        and spec.every == spec.period
        and not spec.offset.is_negative
        and storage_layout(table)
    )
    return pushdown_order(columns, with_time=True) if pushable else columns


def _output_key(table: Table, bounds: tuple[int, int] | None) -> GroupKey:
    """The input key plus ``_start``/``_stop`` (the range), in table column order: window() puts the
    bounds in the key even when an earlier group() took them out."""
    values = dict(table.key)
    if bounds is not None:
        values["_start"], values["_stop"] = Time(bounds[0]), Time(bounds[1])
    return tuple((name, values[name]) for name in table.columns if name in values)


def _generic_tables(table: Table, spec: WindowSpec, fn: Function, args: dict[str, Any]) -> Iterator[Table]:
    time_src, time_dst = args["timeSrc"], args["timeDst"]
    bounds = table_bounds(table)
    parts = list(window_tables(table, spec, "_time", ("_start", "_stop"), args["createEmpty"]))
    outputs: list[Table] = []
    for out in call_with_tables(fn, parts, "aggregateWindow", column=args["column"]):
        src = column_of(out, time_src, "aggregateWindow")
        columns = {name: col for name, col in out.columns.items() if name != time_dst}
        columns[time_dst] = src
        key = tuple((k, v) for k, v in out.key if k != time_dst)
        if bounds is not None:
            n = len(out)
            for name, value in (("_start", bounds[0]), ("_stop", bounds[1])):
                if name in columns:
                    columns[name] = Column(TIME, np.full(n, value, dtype=np.int64))
            key = tuple(
                (k, Time(bounds[0]) if k == "_start" else Time(bounds[1]) if k == "_stop" else v)
                for k, v in key
            )
        outputs.append(Table(key, columns))
    merged: dict[GroupKey, list[Table]] = {}
    for out in outputs:
        merged.setdefault(out.key, []).append(out)
    for key, group in merged.items():
        yield concat(key, group, "aggregateWindow")


@builtin("aggregateWindow")
def aggregate_window(
    ctx: Context,
    tables: Iterator[Table] | None,
    *,
    every: Duration,
    fn: Function,
    period: Duration | None = None,
    offset: Duration | None = None,
    column: str = "_value",
    timeSrc: str = "_stop",
    timeDst: str = "_time",
    createEmpty: bool = True,
    location: Any = None,
) -> Iterator[Table]:
    source = require_tables(tables, "aggregateWindow")
    if location is not None:
        raise UnsupportedError("aggregateWindow(): the location argument is not supported")
    if not isinstance(fn, Function):
        raise FluxError("aggregateWindow(): fn must be a function")
    if not isinstance(createEmpty, bool):
        raise FluxError("aggregateWindow(): createEmpty must be a bool")
    spec = WindowSpec.build(every, period, offset, "aggregateWindow")
    args = {"column": column, "timeSrc": timeSrc, "timeDst": timeDst, "createEmpty": createEmpty}
    reducer = _fast_reducer(fn) if timeSrc in ("_start", "_stop") else None

    def run() -> Iterator[Table]:
        for table in source:
            if table_bounds(table) is None:
                raise FluxError("aggregateWindow(): the input needs _start and _stop columns (use range())")
            if reducer is not None and "_time" in table.columns:
                out = _fast_table(table, spec, reducer, args)
                if out is not None:
                    yield out
            else:
                yield from _generic_tables(table, spec, fn, args)

    return run()


@builtin("truncateTimeColumn")
def truncate_time_column(
    ctx: Context, tables: Iterator[Table] | None, *, unit: Duration, timeColumn: str = "_time"
) -> Iterator[Table]:
    source = require_tables(tables, "truncateTimeColumn")
    if not isinstance(unit, Duration):
        raise FluxError("truncateTimeColumn(): unit must be a duration")

    def run() -> Iterator[Table]:
        regroup = Regrouper("truncateTimeColumn")
        for table in source:
            times = time_column(table, timeColumn, "truncateTimeColumn")
            truncated = Column(TIME, truncate_ns(times.values, unit), times.nulls)
            out = table.with_column(timeColumn, truncated)
            if timeColumn in table.key_names and len(out):
                key = tuple((k, truncated.value(0) if k == timeColumn else v) for k, v in table.key)
                out = Table(key, out.columns)
            regroup.add(out)
        yield from regroup.tables(sort=False)

    return run()


def _truncate_value(t: Any, unit: Any) -> Any:
    if t is None:
        return None
    if not isinstance(t, Time):
        raise FluxError("date.truncate(): t must be a time")
    if not isinstance(unit, Duration):
        raise FluxError("date.truncate(): unit must be a duration")
    return Time(int(truncate_ns(np.array([t.ns], dtype=np.int64), unit)[0]))


def _date_truncate_vector(ctx: Context, *, t: Any, unit: Any, location: Any = None) -> Any:
    if location is not None:
        raise UnsupportedError("date.truncate(): the location argument is not supported")
    if not isinstance(t, Column):
        return _truncate_value(t, unit)
    if t.type != TIME:
        raise FluxError(f"date.truncate(): t must be a time, got {t.type}")
    if not isinstance(unit, Duration):
        raise FluxError("date.truncate(): unit must be a duration")
    return Column(TIME, truncate_ns(t.values, unit), t.nulls)


@builtin("truncate", package="date", vector=_date_truncate_vector)
def date_truncate(ctx: Context, tables: None, *, t: Any, unit: Any, location: Any = None) -> Any:
    if location is not None:
        raise UnsupportedError("date.truncate(): the location argument is not supported")
    return _truncate_value(t, unit)
