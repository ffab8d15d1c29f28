"""The result store protocol: where every successful invocation's CSV (and every run's manifest) lives.

Chosen by URL scheme (:func:`worker.results.get_result_store`): ``file://`` a local folder,
``s3://bucket/prefix`` an S3 bucket. ``?gzip=true`` on the URL stores results gzip-compressed.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, Protocol, runtime_checkable
from urllib.parse import parse_qs

CSV_CONTENT_TYPE = "text/csv"
JSON_CONTENT_TYPE = "application/json"
GZIP_SUFFIX = ".gz"


@runtime_checkable
class ResultStore(Protocol):
    url: str
    gzip: bool  # store results gzip-compressed unless a put says otherwise
    local: bool  # a put is a write on this machine's disk (no network transfer)

    def put(self, key: str, spool_path: Path, *, gzip: bool = False) -> str:
        """Store the file at ``key`` atomically (``.gz`` appended when compressed); return its location.

        The store may take the file over (a hard link): the caller must not modify it afterwards
        (removing it is fine)."""
        ...

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> str:
        """Store a small object (a manifest) atomically; return its location."""
        ...

    def open(self, location: str, *, decompress: bool = False) -> AbstractContextManager[IO[bytes]]:
        """The stored bytes of ``location`` as a binary file object (the CSV itself if ``decompress``)."""
        ...

    def size(self, location: str) -> int:
        """The stored size of ``location`` in bytes."""
        ...

    def link(self, location: str, *, expires_s: int) -> str | None:
        """A URL anyone may fetch ``location`` from for ``expires_s`` (S3: presigned), or None."""
        ...


def is_gzip_location(location: str) -> bool:
    return location.endswith(GZIP_SUFFIX)


def gzip_key(key: str, gzip: bool) -> str:
    return key + GZIP_SUFFIX if gzip and not key.endswith(GZIP_SUFFIX) else key


def split_store_url(url: str) -> tuple[str, bool]:
    """(URL without query, gzip flag from ``?gzip=true``)."""
    base, _, query = url.partition("?")
    values = parse_qs(query)
    flag = values.get("gzip", ["false"])[-1].lower() in {"1", "true", "yes", "on"}
    return base, flag
