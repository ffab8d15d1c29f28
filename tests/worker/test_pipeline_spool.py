"""Spooling a CSV: bytes, data rows (not headers, not blank lines) and SHA-256, across chunk borders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from worker.pipeline.spool import CsvRowCounter, spool_chunks

TWO_TABLES = (
    b",result,table,_time,_value\r\n"
    b",_result,0,t1,1\r\n"
    b",_result,0,t2,2\r\n"
    b"\r\n"
    b",result,table,_time,host\r\n"
    b",_result,1,t1,a\r\n"
    b"\r\n"
)


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
def test_data_rows_are_counted_whatever_the_chunk_size(size: int) -> None:
    counter = CsvRowCounter()
    for chunk in chunks(TWO_TABLES, size):
        counter.feed(chunk)
    assert counter.finish() == 3


def test_an_empty_body_has_no_rows() -> None:
    assert CsvRowCounter().finish() == 0


def test_a_header_alone_has_no_rows() -> None:
    counter = CsvRowCounter()
    counter.feed(b",result,table,_value\r\n\r\n")
    assert counter.finish() == 0


def test_a_last_row_without_a_line_end_counts() -> None:
    counter = CsvRowCounter()
    counter.feed(b",result,table,_value\n,_result,0,1\n,_result,0,2")
    assert counter.finish() == 2


def test_annotation_lines_are_not_rows() -> None:
    counter = CsvRowCounter()
    counter.feed(b"#datatype,string,long\r\n#group,false,false\r\n,result,table\r\n,_result,0\r\n")
    assert counter.finish() == 1


def test_the_spool_file_holds_the_bytes_with_their_size_and_hash(tmp_path: Path) -> None:
    spooled = spool_chunks(chunks(TWO_TABLES, 5), tmp_path)
    assert spooled.path.read_bytes() == TWO_TABLES
    assert spooled.size_bytes == len(TWO_TABLES)
    assert spooled.sha256 == hashlib.sha256(TWO_TABLES).hexdigest()
    assert spooled.rows == 3


def test_a_failing_stream_leaves_no_spool_file(tmp_path: Path) -> None:
    def broken() -> list[bytes]:
        raise OSError("connection reset")

    def stream():  # type: ignore[no-untyped-def]
        yield b",result,table\r\n"
        broken()

    with pytest.raises(OSError):
        spool_chunks(stream(), tmp_path)
    assert list(tmp_path.iterdir()) == []
