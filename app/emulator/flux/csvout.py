"""The contract's CSV: ``,result,table,<columns>`` rows with CRLF, a blank line after each result, a new
header when the schema changes, and the ``,error,reference`` tail for errors found after rows were sent.
Rows are formatted column-wise with numpy and sent in chunks: a result is never held whole in memory."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from app.emulator.errors import EmulatorError
from app.emulator.flux.table import BOOL, DURATION, FLOAT, INT, STRING, TIME, UINT, Column, Table
from app.emulator.flux.values import Duration, Time, format_duration, format_time
from app.emulator.generated import csv_cell, error_tail

if TYPE_CHECKING:
    from app.emulator.flux.interpreter import Result

CHUNK_ROWS = 8192
_NS = 1_000_000_000


def format_float(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    text = repr(value)
    if text.endswith(".0"):
        return text[:-2]
    if "e" in text or "n" in text:
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return np.format_float_positional(value, trim="-")
    return text


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, Time):
        return format_time(value.ns)
    if isinstance(value, Duration):
        return format_duration(value)
    if isinstance(value, str):
        return csv_cell(value)
    return str(value)


def format_column(column: Column) -> list[str]:
    values = column.values
    if column.type == TIME:
        if len(values) and not bool((values % _NS).any()):
            out = [
                s + "Z"
                for s in np.datetime_as_string((values // _NS).astype("datetime64[s]"), unit="s").tolist()
            ]
        else:
            out = [format_time(v) for v in values.tolist()]
    elif column.type == FLOAT:
        finite = values[np.isfinite(values)]
        magnitude = np.abs(finite[finite != 0])
        if len(finite) == len(values) and (
            not len(magnitude) or (magnitude.min() >= 1e-4 and magnitude.max() < 1e16)
        ):  # repr() never uses an exponent in this range: only "x.0" needs trimming
            out = [text.removesuffix(".0") for text in map(repr, values.tolist())]
        else:
            out = [format_float(v) for v in values.tolist()]
    elif column.type in {INT, UINT}:
        out = values.astype(str).tolist()
    elif column.type == BOOL:
        out = np.where(values, "true", "false").tolist()
    elif column.type == STRING:
        out = [csv_cell(v) if v is not None else "" for v in values.tolist()]
    elif column.type == DURATION:
        out = [format_duration(v) if v is not None else "" for v in values.tolist()]
    else:
        out = [str(v) for v in values.tolist()]
    if column.nulls is not None:
        for index in np.flatnonzero(column.nulls).tolist():
            out[index] = ""
    return out


def header_line(names: Sequence[str]) -> str:
    return ",result,table," + ",".join(csv_cell(name) for name in names) + "\r\n"


class InjectedRowError(EmulatorError):
    """Raised when the ``error_after_rows`` fault cuts a result."""


class CsvEncoder:
    def __init__(self, error_after_rows: int | None = None) -> None:
        self.error_after_rows = error_after_rows
        self.rows_sent = 0

    def table_lines(self, result: str, table_id: int, table: Table) -> Iterator[str]:
        key = dict(table.key)
        names = list(table.columns)
        n = len(table)
        prefix = f",{csv_cell(result)},{table_id}"
        for start in range(0, n, CHUNK_ROWS):
            stop = min(n, start + CHUNK_ROWS)
            if self.error_after_rows is not None:
                allowed = self.error_after_rows - self.rows_sent
                if allowed <= 0:
                    raise InjectedRowError(f"injected error after {self.error_after_rows} rows")
                stop = min(stop, start + allowed)
            pieces: list[Any] = [prefix]
            for name in names:
                if name in key:
                    pieces.append("," + format_value(key[name]))
                else:
                    pieces.append(",")
                    pieces.append(format_column(table.columns[name].take(slice(start, stop))))
            pieces.append("\r\n")
            text = _join_rows(pieces, stop - start)
            self.rows_sent += stop - start
            yield text
            if self.error_after_rows is not None and stop < n and self.rows_sent >= self.error_after_rows:
                raise InjectedRowError(f"injected error after {self.error_after_rows} rows")

    def encode(self, results: Sequence[Result]) -> Iterator[bytes]:
        for result in results:
            table_id = 0
            schema: tuple[tuple[str, str], ...] | None = None
            for table in result.stream.tables():
                if len(table) == 0:
                    continue
                if self.error_after_rows is not None and self.rows_sent >= self.error_after_rows:
                    raise InjectedRowError(f"injected error after {self.error_after_rows} rows")
                if table.schema() != schema:
                    if schema is not None:
                        yield b"\r\n"
                    schema = table.schema()
                    yield header_line(list(table.columns)).encode()
                for text in self.table_lines(result.name, table_id, table):
                    yield text.encode()
                table_id += 1
            if schema is not None:
                yield b"\r\n"


def _join_rows(pieces: list[Any], count: int) -> str:
    """Rows made of constant strings and per-row lists, interleaved by list slicing (no Python loop
    per row): ``pieces`` is one row's template, each list holds that column's ``count`` cells."""
    merged: list[Any] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] += piece
        else:
            merged.append(piece)
    width = len(merged)
    out: list[str] = [""] * (width * count)
    for index, piece in enumerate(merged):
        out[index::width] = [piece] * count if isinstance(piece, str) else piece
    return "".join(out)


def stream_csv(results: Sequence[Result], error_after_rows: int | None = None) -> Iterator[bytes]:
    """The CSV body. Errors before the first byte propagate (the server answers a JSON error); after
    that they become the ``,error,reference`` tail."""
    encoder = CsvEncoder(error_after_rows)
    sent = False
    buffer: list[bytes] = []
    size = 0
    try:
        for piece in encoder.encode(results):
            buffer.append(piece)
            size += len(piece)
            if size >= 64 * 1024:
                yield b"".join(buffer)
                sent = True
                buffer, size = [], 0
    except EmulatorError as exc:
        if not sent and not buffer:
            raise
        yield b"".join(buffer)
        yield error_tail(exc.message)
        return
    except Exception as exc:  # an engine bug must not pass as a complete 200 answer
        if not sent and not buffer:
            raise
        yield b"".join(buffer)
        yield error_tail(f"internal error: {exc.__class__.__name__}: {exc}")
        return
    if buffer:
        yield b"".join(buffer)
