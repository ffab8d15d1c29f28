"""Send the work that is ready now but not on the broker: delayed work come due, and lost messages.

Each tick, per table, one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED LIMIT n)
RETURNING id`` marks the rows (``enqueued_at = now``; invocations and deliveries also
``status = queued``), commits, and only then sends one message per row:

* **Runs** PENDING that were never sent (``enqueued_at`` NULL, created more than
  ``SWEEP_UNSENT_GRACE_S`` ago) or sent longer ago than ``settings.sweep_requeue_after_s``;
* **Invocations / Deliveries**
  - WAITING whose ``next_attempt_at`` has come (retries, rate-limit waits: delayed work lives in the
    database, never as a countdown message on the broker);
  - PENDING or QUEUED never sent (after the grace) or sent longer ago than ``sweep_requeue_after_s``
    (lost between commit and send, or with a broker that lost its data);
  - RUNNING whose ``lease_expires_at`` has passed (the worker died mid-task).

Idempotent: a marked row is fresh, so the next sweep leaves it alone until it is stale again; and a task
for a row that is not claimable does nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, exists, or_, select, update
from sqlalchemy.engine import Engine

from app import constants
from app.models import DeliveryStatus, InvocationStatus, RunStatus
from worker.dispatch import DELIVERY, INVOCATION, RUN, send_marked, write_transaction
from worker.enqueuer import Enqueuer

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """How many rows of each table one sweep sent."""

    runs: int = 0
    invocations: int = 0
    deliveries: int = 0

    @property
    def total(self) -> int:
        return self.runs + self.invocations + self.deliveries


def _mark(engine: Engine, table: Table, condition: Any, values: dict[str, Any], batch: int) -> list[int]:
    due = (
        select(table.c.id)
        .where(condition)
        .order_by(table.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    stmt = update(table).where(table.c.id.in_(due.scalar_subquery())).values(**values).returning(table.c.id)
    with write_transaction(engine) as conn:
        return sorted(int(row[0]) for row in conn.execute(stmt))


def _runs_condition(now: datetime, stale_before: datetime, unsent_before: datetime) -> Any:
    return and_(
        RUN.c.status == RunStatus.PENDING,
        or_(
            and_(RUN.c.enqueued_at.is_(None), RUN.c.created_at <= unsent_before),
            RUN.c.enqueued_at <= stale_before,
        ),
    )


def _invocations_condition(now: datetime, stale_before: datetime, unsent_before: datetime) -> Any:
    # An invocation row has no creation time: "never sent" counts from its run's creation.
    run_is_old = exists().where(RUN.c.id == INVOCATION.c.run_id, RUN.c.created_at <= unsent_before)
    return or_(
        and_(INVOCATION.c.status == InvocationStatus.WAITING, INVOCATION.c.next_attempt_at <= now),
        and_(
            INVOCATION.c.status.in_((InvocationStatus.PENDING, InvocationStatus.QUEUED)),
            or_(
                and_(INVOCATION.c.enqueued_at.is_(None), run_is_old),
                INVOCATION.c.enqueued_at <= stale_before,
            ),
        ),
        and_(INVOCATION.c.status == InvocationStatus.RUNNING, INVOCATION.c.lease_expires_at <= now),
    )


def _deliveries_condition(now: datetime, stale_before: datetime, unsent_before: datetime) -> Any:
    return or_(
        and_(DELIVERY.c.status == DeliveryStatus.WAITING, DELIVERY.c.next_attempt_at <= now),
        and_(
            DELIVERY.c.status.in_((DeliveryStatus.PENDING, DeliveryStatus.QUEUED)),
            or_(
                and_(DELIVERY.c.enqueued_at.is_(None), DELIVERY.c.created_at <= unsent_before),
                DELIVERY.c.enqueued_at <= stale_before,
            ),
        ),
        and_(DELIVERY.c.status == DeliveryStatus.RUNNING, DELIVERY.c.lease_expires_at <= now),
    )


def sweep(
    engine: Engine,
    enqueuer: Enqueuer,
    now: datetime,
    *,
    requeue_after_s: float,
    unsent_grace_s: float = constants.SWEEP_UNSENT_GRACE_S,
    batch: int = constants.SWEEP_BATCH,
) -> SweepResult:
    """Mark and send every run, invocation and delivery that is ready but not on the broker."""
    stale_before = now - timedelta(seconds=requeue_after_s)
    unsent_before = now - timedelta(seconds=unsent_grace_s)
    result = SweepResult()

    run_ids = _mark(
        engine, RUN, _runs_condition(now, stale_before, unsent_before), {"enqueued_at": now}, batch
    )
    result.runs = send_marked(
        engine, enqueuer, RUN, constants.TASK_FIRE_RUN, constants.QUEUE_DEFAULT, run_ids
    )

    invocation_ids = _mark(
        engine,
        INVOCATION,
        _invocations_condition(now, stale_before, unsent_before),
        {"status": InvocationStatus.QUEUED, "enqueued_at": now},
        batch,
    )
    result.invocations = send_marked(
        engine, enqueuer, INVOCATION, constants.TASK_INVOKE, constants.QUEUE_INVOKE, invocation_ids
    )

    delivery_ids = _mark(
        engine,
        DELIVERY,
        _deliveries_condition(now, stale_before, unsent_before),
        {"status": DeliveryStatus.QUEUED, "enqueued_at": now},
        batch,
    )
    result.deliveries = send_marked(
        engine, enqueuer, DELIVERY, constants.TASK_DELIVER, constants.QUEUE_DELIVER, delivery_ids
    )
    if result.total:
        logger.info(
            "beat: sent %d run(s), %d invocation(s), %d deliver(ies) due or unsent",
            result.runs,
            result.invocations,
            result.deliveries,
        )
    return result
