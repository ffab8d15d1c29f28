"""Canned invoke bodies: the constant ``fast`` CSV and generated CSVs of an exact size, streamed."""

from __future__ import annotations

from collections.abc import Iterator

FAST_HEADER = ",result,table,_start,_stop,_time,_value,_field,_measurement,sensor_id\r\n"
FAST_ROWS = (
    ",_result,0,2021-09-25T22:20:11Z,2021-10-25T22:20:11Z,2021-09-28T16:13:05Z,73,temperature,airSensors,TLM0100\r\n",
    ",_result,1,2021-09-25T22:20:11Z,2021-10-25T22:20:11Z,2021-09-28T16:13:05Z,35,humidity,airSensors,TLM0100\r\n",
    ",_result,2,2021-09-25T22:20:11Z,2021-10-25T22:20:11Z,2021-09-28T16:13:05Z,0.5,co,airSensors,TLM0100\r\n",
)
FAST_CSV = (FAST_HEADER + "".join(FAST_ROWS) + "\r\n").encode()

GENERATED_HEADER = b",result,table,_value\r\n"
GENERATED_ROW_PREFIX = b",_result,0,"
GENERATED_ROW_BYTES = 128
GENERATED_BLOCK_ROWS = 8192  # 1 MiB blocks


def error_tail(message: str) -> bytes:
    """The contract's error table, appended after rows already sent (message CSV-quoted if needed)."""
    return b"\r\n,error,reference\r\n," + csv_cell(message).encode() + b",\r\n"


def csv_cell(text: str) -> str:
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def fast_chunks(error_after_rows: int | None) -> Iterator[bytes]:
    """The fast CSV, cut by an error table after ``error_after_rows`` rows when asked."""
    if error_after_rows is None or error_after_rows >= len(FAST_ROWS):
        yield FAST_CSV
        return
    yield (FAST_HEADER + "".join(FAST_ROWS[:error_after_rows])).encode()
    yield error_tail(f"injected error after {error_after_rows} rows")


def _row(width: int) -> bytes:
    filler = width - len(GENERATED_ROW_PREFIX) - 2
    return GENERATED_ROW_PREFIX + b"x" * filler + b"\r\n"


def generated_chunks(total_bytes: int) -> Iterator[bytes]:
    """A valid CSV body of exactly ``total_bytes`` bytes (header, rows of one string column, final blank
    line), produced block by block: memory stays at one block whatever the size."""
    minimum = len(GENERATED_HEADER) + len(GENERATED_ROW_PREFIX) + 4
    if total_bytes < minimum:
        yield (GENERATED_HEADER + b"\r\n" + b" " * total_bytes)[:total_bytes]
        return
    yield GENERATED_HEADER
    remaining = total_bytes - len(GENERATED_HEADER) - 2  # the final blank line
    block = _row(GENERATED_ROW_BYTES) * GENERATED_BLOCK_ROWS
    min_row = len(GENERATED_ROW_PREFIX) + 2
    # whole rows first; the last row absorbs the remainder (it must hold at least the prefix)
    rows, last = divmod(remaining, GENERATED_ROW_BYTES)
    if last and last < min_row:
        rows -= 1
        last += GENERATED_ROW_BYTES
    full_blocks, rest_rows = divmod(rows, GENERATED_BLOCK_ROWS)
    for _ in range(full_blocks):
        yield block
    if rest_rows:
        yield block[: rest_rows * GENERATED_ROW_BYTES]
    if last:
        yield _row(last)
    yield b"\r\n"
