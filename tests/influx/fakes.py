"""Fake InfluxDB answers for the scripts client's unit tests (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from app.influx import ScriptsClient

BASE_URL = "http://influx.test:8086"
TOKEN = "s3cr3t-token-value"
SCRIPT_ID = "084d693d93048000"

Handler = Callable[[httpx.Request], httpx.Response]

CSV_HEADER = b",result,table,_time,_value\r\n"
CSV_ROWS = (
    b",_result,0,2021-09-28T16:13:05Z,73\r\n",
    b",_result,0,2021-09-28T16:14:05Z,74\r\n",
)
CSV_BODY = CSV_HEADER + b"".join(CSV_ROWS) + b"\r\n"


def script_json(script_id: str = SCRIPT_ID, name: str = "getLastPoint", **extra: Any) -> dict[str, Any]:
    data = {
        "id": script_id,
        "orgID": "bea7ea952287f70d",
        "name": name,
        "description": "getLastPoint finds the last point in a bucket",
        "script": "from(bucket: params.mybucket) |> range(start: -7d) |> limit(n: 1)",
        "language": "flux",
        "url": f"{BASE_URL}/api/v2/scripts/{script_id}",
        "createdAt": "2021-10-15T20:32:04.172938Z",
        "updatedAt": "2021-10-15T20:32:04.172938Z",
    }
    data.update(extra)
    return data


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps({"code": code, "message": message}).encode(),
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Platform-Error-Code": code,
            **(headers or {}),
        },
    )


def client_for(handler: Handler, **kwargs: Any) -> ScriptsClient:
    return ScriptsClient(
        BASE_URL, TOKEN, client=httpx.Client(transport=httpx.MockTransport(handler)), **kwargs
    )


def streamed(*chunks: bytes, fail_with: Exception | None = None) -> httpx.SyncByteStream:
    """A response body sent chunk by chunk, optionally breaking with ``fail_with`` after the last one."""

    class _Stream(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield from chunks
            if fail_with is not None:
                raise fail_with

    return _Stream()


def csv_response(*chunks: bytes, fail_with: Exception | None = None) -> httpx.Response:
    return httpx.Response(
        200,
        stream=streamed(*chunks, fail_with=fail_with),
        headers={"Content-Type": "text/csv; charset=utf-8"},
    )
