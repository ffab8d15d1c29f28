"""The JSON bodies of webhook events and of the run manifest. The same delivery sends the same event on
every attempt (only the ``webhook-timestamp`` header, and a presigned S3 link's signature, change)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from app.models import Invocation, Run, Schedule

INVOCATION_SUCCEEDED = "invocation.succeeded"
RUN_COMPLETED = "run.completed"
MANIFEST_VERSION = 1


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def schedule_info(schedule: Schedule) -> dict[str, Any]:
    return {"id": schedule.id, "name": schedule.name, "script_id": schedule.script_id}


def run_info(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": str(run.kind),
        "status": str(run.status),
        "scheduled_for": _time(run.scheduled_for),
        "window_start": _time(run.window_start),
        "window_end": _time(run.window_end),
        "total": run.total,
        "succeeded": run.succeeded,
        "failed": run.failed,
        "finished_at": _time(run.finished_at),
    }


def invocation_info(invocation: Invocation, location: str | None = None) -> dict[str, Any]:
    return {
        "id": invocation.id,
        "index": invocation.index,
        "params": invocation.params,
        "params_hash": invocation.params_hash,
        "status": str(invocation.status),
        "attempts": invocation.attempts,
        "http_status": invocation.last_http_status,
        "error": invocation.error,
        "location": location if location is not None else invocation.result_location,
        "rows": invocation.result_rows,
        "bytes": invocation.result_bytes,
        "sha256": invocation.result_sha256,
        "finished_at": _time(invocation.finished_at),
    }


def invocation_event(
    schedule: Schedule, run: Run, invocation: Invocation, *, result_url: str, content_encoding: str | None
) -> bytes:
    """``invocation.succeeded``: the invocation's metadata and where to fetch its CSV."""
    return dumps(
        {
            "type": INVOCATION_SUCCEEDED,
            "timestamp": _time(invocation.finished_at),
            "data": {
                "schedule": schedule_info(schedule),
                "run": {"id": run.id, "kind": str(run.kind), "scheduled_for": _time(run.scheduled_for)},
                "invocation": invocation_info(invocation),
                "result": {
                    "url": result_url,
                    "content_type": "text/csv",
                    "content_encoding": content_encoding,
                },
            },
        }
    )


def run_event(schedule: Schedule, run: Run, *, manifest_url: str | None) -> bytes:
    """``run.completed``: the run's outcome and where to fetch its manifest."""
    return dumps(
        {
            "type": RUN_COMPLETED,
            "timestamp": _time(run.finished_at),
            "data": {"schedule": schedule_info(schedule), "run": run_info(run), "manifest_url": manifest_url},
        }
    )


def manifest(schedule: Schedule, run: Run, invocations: list[Invocation]) -> bytes:
    """Every invocation of the run: params, status, location, rows, bytes and SHA-256."""
    return dumps(
        {
            "version": MANIFEST_VERSION,
            "schedule": schedule_info(schedule),
            "run": run_info(run),
            "invocations": [invocation_info(i) for i in sorted(invocations, key=lambda i: i.index)],
        }
    )
