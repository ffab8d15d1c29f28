"""The result store: where every successful invocation's CSV and every run's manifest is kept.

```python
store = get_result_store(settings.result_store_url)   # file://... or s3://bucket/prefix[?gzip=true]
location = store.put(result_key(schedule, run, invocation), spool_path)
with store.open(location) as f: ...
```
"""

from __future__ import annotations

from worker.results.base import ResultStore, is_gzip_location
from worker.results.errors import (
    PermanentStoreError,
    ResultNotFound,
    ResultStoreError,
    RetryableStoreError,
    StoreUrlError,
)
from worker.results.filestore import FILE_SCHEME, FileResultStore
from worker.results.keys import KeyTemplateError, manifest_key, result_key, validate_key_template
from worker.results.s3store import S3_SCHEME, S3ResultStore, parse_s3_url

__all__ = [
    "FileResultStore",
    "KeyTemplateError",
    "PermanentStoreError",
    "ResultNotFound",
    "ResultStore",
    "ResultStoreError",
    "RetryableStoreError",
    "S3ResultStore",
    "StoreUrlError",
    "get_result_store",
    "is_gzip_location",
    "manifest_key",
    "result_key",
    "store_for_location",
    "validate_key_template",
]


def get_result_store(url: str | None = None) -> ResultStore:
    """The store a URL names (default: ``settings.result_store_url``)."""
    from worker.results.base import split_store_url

    if url is None:
        from app.settings import get_settings

        url = get_settings().result_store_url
    base, gzip = split_store_url(url)
    if base.startswith(FILE_SCHEME):
        path = base[len(FILE_SCHEME) :]
        if not path:
            raise StoreUrlError("file:// result store URL names no folder")
        return FileResultStore(path, gzip=gzip)
    if base.startswith(S3_SCHEME):
        bucket, prefix = parse_s3_url(base)
        return S3ResultStore(bucket, prefix, gzip=gzip)
    raise StoreUrlError("result store URL must start with file:// or s3://")


def store_for_location(location: str) -> ResultStore:
    """The configured store, checked to hold ``location`` (a location from another store is refused)."""
    store = get_result_store()
    if location.startswith(FILE_SCHEME) != isinstance(store, FileResultStore):
        raise StoreUrlError("result location does not belong to the configured result store")
    return store
