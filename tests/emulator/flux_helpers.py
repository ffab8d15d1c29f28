"""Helpers for engine tests: a DataStore with line protocol written into it, scripts run to CSV text."""

from __future__ import annotations

import csv
import io
from typing import Any

from app.emulator.lineprotocol import parse_lines
from app.emulator.query import prepare_invoke, run_script
from app.emulator.storage import DataStore

ORG = "0123456789abcdef"
NOW_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
T0 = NOW_NS - 3600 * 10**9  # an hour before now


def store_with(lines: str, bucket: str = "b") -> DataStore:
    data = DataStore()
    data.ensure_bucket(ORG, bucket).write_points(parse_lines(lines), NOW_NS)
    return data


def run_csv(data: DataStore, script: str, params: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return b"".join(run_script(script, params or {}, data=data, org_id=ORG, now_ns=NOW_NS, **kwargs)).decode()


def invoke_csv(data: DataStore, script: str, params: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """Like the server: errors before the first row raise."""
    chunks = prepare_invoke(script, params or {}, data=data, org_id=ORG, now_ns=NOW_NS, **kwargs)
    return b"".join(chunks).decode()


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.replace("\r\n", "\n"))))


def records(text: str) -> list[dict[str, str]]:
    """Data rows as dicts (header row of each block), without the leading empty column."""
    out: list[dict[str, str]] = []
    header: list[str] | None = None
    for row in rows(text):
        if not row:
            header = None
            continue
        if header is None:
            header = row
            continue
        out.append(dict(zip(header[1:], row[1:], strict=True)))
    return out


def ts(minutes: int) -> int:
    """T0 plus some minutes, in ns."""
    return T0 + minutes * 60 * 10**9
