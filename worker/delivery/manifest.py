"""The run manifest: every invocation's params, status, location, rows, bytes and SHA-256, stored as
``manifest.json`` next to the run's results (worker.results.keys.manifest_key)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import session_scope
from app.models import Invocation, Run, Schedule
from worker.delivery import payloads
from worker.results import ResultStore, manifest_key
from worker.results.base import JSON_CONTENT_TYPE


def build(schedule: Schedule, run: Run) -> bytes:
    with session_scope() as session:
        invocations = list(
            session.execute(select(Invocation).where(Invocation.run_id == run.id)).scalars()  # type: ignore[arg-type]
        )
    return payloads.manifest(schedule, run, invocations)


def store_manifest(store: ResultStore, schedule: Schedule, run: Run) -> str:
    """Write the manifest (atomic, deterministic bytes: writing it twice is harmless); return its location."""
    return store.put_bytes(manifest_key(schedule, run), build(schedule, run), content_type=JSON_CONTENT_TYPE)
