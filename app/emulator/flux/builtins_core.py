"""Core table builtins: from, range, filter, limit, first, last, yield."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from app.emulator.errors import NotFoundError
from app.emulator.flux.errors import FluxError, UnsupportedError
from app.emulator.flux.registry import Context, builtin, require_tables
from app.emulator.flux.rowfn import filter_mask
from app.emulator.flux.table import STRING, TIME, Column, Table
from app.emulator.flux.values import Duration, Function, Time, type_of
from app.emulator.storage import Bucket, Series


class StorageRead(Iterator[Table]):
    """What ``from()`` returns: a bucket waiting for ``range()`` to bound the read."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    def __next__(self) -> Table:
        raise UnsupportedError(
            f'cannot submit unbounded read to "{self.bucket.name}"; '
            "try bounding from() with a call to range()"
        )

    def read(self, start: Time, stop: Time) -> Iterator[Table]:
        """One table per series with points in [start, stop), in series-key order."""
        with self.bucket.lock:
            items = sorted(self.bucket.series.items(), key=lambda item: item[0])
        for (measurement, tags, field), series in items:
            table = series_table(series, measurement, tags, field, start, stop)
            if table is not None:
                yield table


def series_table(
    series: Series, measurement: str, tags: tuple[tuple[str, str], ...], field: str, start: Time, stop: Time
) -> Table | None:
    times, values = series.window(start.ns, stop.ns)
    n = len(times)
    if n == 0:
        return None
    key: list[tuple[str, Any]] = [
        ("_start", start),
        ("_stop", stop),
        ("_field", field),
        ("_measurement", measurement),
    ]
    key += list(tags)
    columns = {
        "_start": Column.constant(TIME, start, n),
        "_stop": Column.constant(TIME, stop, n),
        "_time": Column(TIME, times),
        "_value": Column(series.ftype, values),
        "_field": Column.constant(STRING, field, n),
        "_measurement": Column.constant(STRING, measurement, n),
    }
    for tag, value in tags:
        columns[tag] = Column.constant(STRING, value, n)
    return Table(tuple(key), columns)


@builtin("from")
def from_(
    ctx: Context,
    tables: Any,
    *,
    bucket: Any = None,
    bucketID: Any = None,
    host: Any = None,
    org: Any = None,
    orgID: Any = None,
    token: Any = None,
) -> Iterator[Table]:
    if host is not None or token is not None:
        raise UnsupportedError("from(): host and token (remote reads) are not supported by the emulator")
    if (bucket is None) == (bucketID is None):
        raise FluxError("from(): give exactly one of bucket or bucketID")
    name = bucket if bucket is not None else bucketID
    if not isinstance(name, str):
        raise FluxError(f"from(): bucket must be a string, got {type_of(name)}")
    try:
        found = (
            ctx.data.get_bucket(ctx.org_id, name)
            if bucket is not None
            else ctx.data.get_bucket_by_id(ctx.org_id, name)
        )
    except NotFoundError:
        raise NotFoundError(f'failed to initialize execute state: could not find bucket "{name}"') from None
    return StorageRead(found)


def to_time(ctx: Context, value: Any, what: str) -> Time:
    """A range bound: a time, a duration relative to now, or an int of Unix seconds."""
    if isinstance(value, Time):
        return value
    if isinstance(value, Duration):
        return ctx.now.add(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Time(value * 1_000_000_000)
    raise FluxError(f"range(): {what} must be a time, a duration or an int, got {type_of(value)}")


@builtin("range")
def range_(ctx: Context, tables: Iterator[Table] | None, *, start: Any, stop: Any = None) -> Iterator[Table]:
    source = require_tables(tables, "range")
    begin = to_time(ctx, start, "start")
    end = ctx.now if stop is None else to_time(ctx, stop, "stop")
    if isinstance(source, StorageRead):
        return source.read(begin, end)
    return _range_tables(source, begin, end)


def _range_tables(source: Iterator[Table], begin: Time, end: Time) -> Iterator[Table]:
    for table in source:
        if "_time" not in table.columns:
            raise FluxError('range(): missing column "_time"')
        times = table.columns["_time"]
        keep = (times.values >= begin.ns) & (times.values < end.ns)
        if times.nulls is not None:
            keep &= ~times.nulls
        chosen = table.take(keep)
        n = len(chosen)
        columns = {"_start": Column.constant(TIME, begin, n), "_stop": Column.constant(TIME, end, n)}
        columns.update({k: v for k, v in chosen.columns.items() if k not in columns})
        key = (
            ("_start", begin),
            ("_stop", end),
            *((k, v) for k, v in table.key if k not in {"_start", "_stop"}),
        )
        yield Table(key, columns)


@builtin("filter")
def filter_(
    ctx: Context, tables: Iterator[Table] | None, *, fn: Any, onEmpty: str = "drop"
) -> Iterator[Table]:
    source = require_tables(tables, "filter")
    if not isinstance(fn, Function):
        raise FluxError(f"filter(): fn must be a function, got {type_of(fn)}")
    if onEmpty not in {"drop", "keep"}:
        raise FluxError('filter(): onEmpty must be "drop" or "keep"')

    def run() -> Iterator[Table]:
        for table in source:
            mask = filter_mask(ctx, fn, table)
            result = table if bool(mask.all()) else table.take(mask)
            if len(result) or onEmpty == "keep":
                yield result

    return run()


def _int_arg(value: Any, name: str, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise FluxError(f"{name}(): {what} must be a non-negative int")
    return value


@builtin("limit")
def limit(ctx: Context, tables: Iterator[Table] | None, *, n: Any, offset: Any = 0) -> Iterator[Table]:
    source = require_tables(tables, "limit")
    count = _int_arg(n, "limit", "n")
    skip = _int_arg(offset, "limit", "offset")
    return (table.take(slice(skip, skip + count)) for table in source)


def _selector(name: str, source: Iterator[Table], column: str, pick_last: bool) -> Iterator[Table]:
    for table in source:
        if column not in table.columns:
            raise FluxError(f'{name}(): column "{column}" does not exist')
        col = table.columns[column]
        valid = np.flatnonzero(~col.nulls) if col.nulls is not None else None
        if valid is not None:
            if len(valid) == 0:
                continue
            index = int(valid[-1] if pick_last else valid[0])
        else:
            if len(col) == 0:
                continue
            index = len(col) - 1 if pick_last else 0
        yield table.take(slice(index, index + 1))


@builtin("first")
def first(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
    return _selector("first", require_tables(tables, "first"), column, pick_last=False)


@builtin("last")
def last(ctx: Context, tables: Iterator[Table] | None, *, column: str = "_value") -> Iterator[Table]:
    return _selector("last", require_tables(tables, "last"), column, pick_last=True)


@builtin("yield")
def yield_(ctx: Context, tables: Iterator[Table] | None, *, name: str = "_result") -> Iterator[Table]:
    """Handled by the interpreter (it records the result); registered for lookup and argument checks."""
    return require_tables(tables, "yield")
