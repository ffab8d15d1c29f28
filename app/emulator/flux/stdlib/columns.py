"""Column-set functions: keep, drop, rename, duplicate, set.

A group-key column that is removed leaves the key; when two tables end up with the same key they are
merged into one (first-seen order), as Flux's table builders do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from app.emulator.flux.errors import FluxError
from app.emulator.flux.operators import truthy
from app.emulator.flux.registry import Context, builtin, require_tables
from app.emulator.flux.stdlib.common import Regrouper, column_of, string_list
from app.emulator.flux.table import STRING, Column, Table
from app.emulator.flux.values import Function


def _merged(source: Iterator[Table], fn: str, change: Callable[[Table], Table]) -> Iterator[Table]:
    regroup = Regrouper(fn)
    for table in source:
        regroup.add(change(table))
    yield from regroup.tables(sort=False)


def _predicate(fn: Any, name: str) -> Callable[[str], bool]:
    if not isinstance(fn, Function):
        raise FluxError(f"{name}(): fn must be a function")
    return lambda column: truthy(fn.call(column=column), name)


def _chosen(columns: Any, fn: Any, name: str) -> Callable[[Table], list[str]]:
    if (columns is None) == (fn is None):
        raise FluxError(f"{name}(): give exactly one of columns or fn")
    if columns is not None:
        wanted = set(string_list(columns, name, "columns"))
        return lambda table: [c for c in table.columns if c in wanted]
    test = _predicate(fn, name)
    return lambda table: [c for c in table.columns if test(c)]


@builtin("keep")
def keep(
    ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None, fn: Any = None
) -> Iterator[Table]:
    source = require_tables(tables, "keep")
    chosen = _chosen(columns, fn, "keep")
    return _merged(source, "keep", lambda table: table.select(chosen(table)))


@builtin("drop")
def drop(
    ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None, fn: Any = None
) -> Iterator[Table]:
    source = require_tables(tables, "drop")
    chosen = _chosen(columns, fn, "drop")

    def change(table: Table) -> Table:
        gone = set(chosen(table))
        return table.select([c for c in table.columns if c not in gone])

    return _merged(source, "drop", change)


@builtin("rename")
def rename(
    ctx: Context, tables: Iterator[Table] | None, *, columns: Any = None, fn: Any = None
) -> Iterator[Table]:
    source = require_tables(tables, "rename")
    if (columns is None) == (fn is None):
        raise FluxError("rename(): give exactly one of columns or fn")
    if columns is not None:
        if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
            raise FluxError("rename(): columns must be a record of old name -> new name strings")
        mapping: dict[str, str] = dict(columns)

        def new_name(table: Table, old: str) -> str:
            return mapping.get(old, old)
    else:
        if not isinstance(fn, Function):
            raise FluxError("rename(): fn must be a function")
        func = fn

        def new_name(table: Table, old: str) -> str:
            value = func.call(column=old)
            if not isinstance(value, str):
                raise FluxError("rename(): fn must return a string")
            return value

    def change(table: Table) -> Table:
        if columns is not None:
            missing = [old for old in mapping if old not in table.columns]
            if missing:
                raise FluxError(f'rename(): column "{missing[0]}" does not exist')
        names = {old: new_name(table, old) for old in table.columns}
        if len(set(names.values())) != len(names):
            raise FluxError("rename(): two columns would get the same name")
        renamed = {names[old]: column for old, column in table.columns.items()}
        return Table(tuple((names[k], v) for k, v in table.key), renamed)

    return _merged(source, "rename", change)


@builtin("duplicate")
def duplicate(ctx: Context, tables: Iterator[Table] | None, *, column: str, as_: str) -> Iterator[Table]:
    source = require_tables(tables, "duplicate")
    if not isinstance(column, str) or not isinstance(as_, str):
        raise FluxError("duplicate(): column and as must be strings")

    def run() -> Iterator[Table]:
        for table in source:
            copy = column_of(table, column, "duplicate")
            columns = {name: col for name, col in table.columns.items() if name != as_}
            columns[as_] = copy
            yield Table(tuple((k, v) for k, v in table.key if k != as_), columns)

    return run()


@builtin("set")
def set_(ctx: Context, tables: Iterator[Table] | None, *, key: str, value: Any) -> Iterator[Table]:
    source = require_tables(tables, "set")
    if not isinstance(key, str):
        raise FluxError("set(): key must be a string")
    if not isinstance(value, str):
        raise FluxError("set(): value must be a string")

    def change(table: Table) -> Table:
        out = table.with_column(key, Column.constant(STRING, value, len(table)))
        if key in table.key_names:
            out = Table(tuple((k, value if k == key else v) for k, v in table.key), out.columns)
        return out

    return _merged(source, "set", change)
