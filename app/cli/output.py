"""Output helpers shared by the CLI areas: tables (rich) or JSON on stdout, ``error: ...`` on stderr.

- :func:`print_rows` prints a list of dicts as a table, or as a JSON array with ``as_json=True``.
- :func:`print_record` prints one dict as a two-column field/value table, or as a JSON object.
- :func:`fail` / :func:`usage_error` print ``error: <code>: <message>`` to stderr and exit 1 / 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

EXIT_FAILURE = 1  # the server or the network said no
EXIT_USAGE = 2  # the command line is wrong (click uses 2 for its own usage errors too)

_PIPE_WIDTH = 4096  # when stdout is not a terminal, never wrap or cut cells


def _console() -> Console:
    """A console on the current stdout (looked up per call, so test runners can capture it)."""
    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, highlight=False, width=_PIPE_WIDTH)
    return console


def cell(value: Any) -> str:
    """A value as table text: ``""`` for None, RFC 3339 for times, JSON for lists and dicts."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, sort_keys=True)
    return str(value)


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON (times as RFC 3339, enums as their values)."""
    typer.echo(json.dumps(data, indent=2, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print ``rows`` as a table; ``columns`` picks and orders them (default: the first row's keys)."""
    names = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    table = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        # Text(), not str: a value like "[bold]" must print as is, not as rich markup.
        table.add_row(*(Text(cell(row.get(name))) for name in names))
    _console().print(table)


def print_rows(
    rows: Sequence[Mapping[str, Any]], *, as_json: bool = False, columns: Sequence[str] | None = None
) -> None:
    """A table by default; with ``as_json`` the rows as a JSON array (all keys, not only ``columns``)."""
    if as_json:
        print_json(list(rows))
    else:
        print_table(rows, columns)


def print_record(record: Mapping[str, Any], *, as_json: bool = False) -> None:
    """One object: a field/value table in the record's key order, or a JSON object."""
    if as_json:
        print_json(dict(record))
        return
    table = Table(show_edge=False, box=None, pad_edge=False, show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", overflow="fold")
    for key, value in record.items():
        table.add_row(Text(key), Text(cell(value)))
    _console().print(table)


def print_error(message: str, code: str | None = None) -> None:
    """Write ``error: <code>: <message>`` (or ``error: <message>`` without a code) to stderr."""
    typer.echo(f"error: {code}: {message}" if code else f"error: {message}", err=True)


def fail(message: str, code: str | None = None, *, exit_code: int = EXIT_FAILURE) -> NoReturn:
    """Print the error and exit (1 by default: a server or network error)."""
    print_error(message, code)
    raise typer.Exit(exit_code)


def usage_error(message: str) -> NoReturn:
    """Print the error and exit 2: the command line is wrong or incomplete."""
    fail(message, exit_code=EXIT_USAGE)
