"""Planning deliveries: the Delivery rows of a successful invocation and of a finished run.

Called by the invoke pipeline after the outcome is committed; each call inserts its rows in its own
transaction, QUEUED with ``enqueued_at`` set (the caller sends them at once; if it cannot, the beat's
sweep does later), and returns the ids to send. Idempotent: every row's ``message_id`` is derived from
(schedule, run, run creation time, invocation, destination) and unique in the table, and rows are
inserted ``ON CONFLICT DO NOTHING``; so planning twice (a redelivered task) creates nothing new, also
for run-level rows whose ``invocation_id`` is NULL (which the composite unique constraint cannot catch).

- Invocation level: one row per destination of the schedule (``s3``: the CSV copied to the bucket;
  ``webhook``: an ``invocation.succeeded`` event or the CSV itself).
- Run level: a MANIFEST row (``destination_index`` -1: the manifest JSON into the result store), then
  one row per destination (``webhook``: a ``run.completed`` event; ``s3``: the manifest copied); once
  per end of the run (a run reopened by retrying its failed invocations plans again when it ends).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from app.db import session_scope, utcnow
from app.models import (
    Delivery,
    DeliveryStatus,
    DestinationKind,
    Invocation,
    InvocationStatus,
    Run,
    RunStatus,
    Schedule,
)

DELIVERY = cast(Table, Delivery.__table__)  # type: ignore[attr-defined]
MANIFEST_DESTINATION_INDEX = -1
DESTINATION_KINDS = {DestinationKind.S3.value, DestinationKind.WEBHOOK.value}


def message_id_for(run: Run, invocation_id: int | None, destination_index: int) -> str:
    """The stable webhook-id of one delivery: deterministic here, distinct across databases (the run's
    creation time is part of it). A run-level id also holds the run's end time: a run that ends again
    (its failed invocations retried) gets a new manifest and a new ``run.completed`` event."""
    seed = (
        f"{run.schedule_id}:{run.id}:{run.created_at.isoformat()}:{invocation_id or '-'}:{destination_index}"
    )
    if invocation_id is None and run.finished_at is not None:
        seed += f":{run.finished_at.isoformat()}"
    return "msg_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _insert_rows(session: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert rows that do not exist yet; return the ids of the rows this call created."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(DELIVERY).values(list(rows)).on_conflict_do_nothing().returning(DELIVERY.c.id)
    return sorted(int(row[0]) for row in session.execute(stmt))


def _row(run: Run, invocation_id: int | None, index: int, kind: str, now: Any) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "invocation_id": invocation_id,
        "destination_index": index,
        "kind": DestinationKind(kind),
        "status": DeliveryStatus.QUEUED,
        "message_id": message_id_for(run, invocation_id, index),
        "attempts": 0,
        "created_at": now,
        "enqueued_at": now,
    }


def _destinations(schedule: Schedule) -> list[tuple[int, str]]:
    return [
        (index, str(dest.get("type")))
        for index, dest in enumerate(schedule.destinations or [])
        if isinstance(dest, dict) and dest.get("type") in DESTINATION_KINDS
    ]


def plan_invocation_deliveries(invocation_id: int) -> list[int]:
    """Create the Delivery rows of a SUCCEEDED invocation (one per destination); return the new ids."""
    with session_scope() as session:
        found = session.execute(
            select(Invocation, Run, Schedule)
            .join(Run, Run.id == Invocation.run_id)  # type: ignore[arg-type]
            .join(Schedule, Schedule.id == Run.schedule_id)  # type: ignore[arg-type]
            .where(Invocation.id == invocation_id)  # type: ignore[arg-type]
        ).first()
        if found is None:
            return []
        invocation, run, schedule = found
        if invocation.status != InvocationStatus.SUCCEEDED:
            return []
        now = utcnow()
        rows = [_row(run, invocation_id, index, kind, now) for index, kind in _destinations(schedule)]
        return _insert_rows(session, rows)


def plan_run_deliveries(run_id: int) -> list[int]:
    """Create the manifest row and the run-level rows of a finished run; return the new ids."""
    with session_scope() as session:
        found = session.execute(
            select(Run, Schedule)
            .join(Schedule, Schedule.id == Run.schedule_id)  # type: ignore[arg-type]
            .where(Run.id == run_id)  # type: ignore[arg-type]
        ).first()
        if found is None:
            return []
        run, schedule = found
        if run.status not in RunStatus.TERMINAL or run.status == RunStatus.SKIPPED:
            return []
        now = utcnow()
        rows = [_row(run, None, MANIFEST_DESTINATION_INDEX, DestinationKind.MANIFEST, now)]
        rows += [_row(run, None, index, kind, now) for index, kind in _destinations(schedule)]
        return _insert_rows(session, rows)
