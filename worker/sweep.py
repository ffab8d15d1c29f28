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
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, and_, bindparam, exists, or_, select, update

from app import constants
from app.db import UTCDateTime
from app.models import DeliveryStatus, InvocationStatus, RunStatus
from worker.dispatch import DELIVERY, INVOCATION, RUN, Bind, send_marked, write_transaction
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


_NOW: Any = bindparam("now", type_=UTCDateTime())
_STALE_BEFORE: Any = bindparam("stale_before", type_=UTCDateTime())
_UNSENT_BEFORE: Any = bindparam("unsent_before", type_=UTCDateTime())
_QUEUED_NOW: dict[str, Any] = {"enqueued_at": _NOW}


def _marking(table: Table, condition: Any, values: dict[str, Any], batch: int) -> Any:
    """``UPDATE table SET values WHERE id IN (due rows, locked, skipping locked ones) RETURNING id``."""
    due = (
        select(table.c.id)
        .where(condition)
        .order_by(table.c.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    return update(table).where(table.c.id.in_(due.scalar_subquery())).values(**values).returning(table.c.id)


_RUNS_DUE = and_(
    RUN.c.status == RunStatus.PENDING,
    or_(
        and_(RUN.c.enqueued_at.is_(None), RUN.c.created_at <= _UNSENT_BEFORE),
        RUN.c.enqueued_at <= _STALE_BEFORE,
    ),
)
# An invocation row has no creation time: "never sent" counts from its run's creation.
_INVOCATIONS_DUE = or_(
    and_(INVOCATION.c.status == InvocationStatus.WAITING, INVOCATION.c.next_attempt_at <= _NOW),
    and_(
        INVOCATION.c.status.in_((InvocationStatus.PENDING, InvocationStatus.QUEUED)),
        or_(
            and_(
                INVOCATION.c.enqueued_at.is_(None),
                exists().where(RUN.c.id == INVOCATION.c.run_id, RUN.c.created_at <= _UNSENT_BEFORE),
            ),
            INVOCATION.c.enqueued_at <= _STALE_BEFORE,
        ),
    ),
    and_(INVOCATION.c.status == InvocationStatus.RUNNING, INVOCATION.c.lease_expires_at <= _NOW),
)
_DELIVERIES_DUE = or_(
    and_(DELIVERY.c.status == DeliveryStatus.WAITING, DELIVERY.c.next_attempt_at <= _NOW),
    and_(
        DELIVERY.c.status.in_((DeliveryStatus.PENDING, DeliveryStatus.QUEUED)),
        or_(
            and_(DELIVERY.c.enqueued_at.is_(None), DELIVERY.c.created_at <= _UNSENT_BEFORE),
            DELIVERY.c.enqueued_at <= _STALE_BEFORE,
        ),
    ),
    and_(DELIVERY.c.status == DeliveryStatus.RUNNING, DELIVERY.c.lease_expires_at <= _NOW),
)


@lru_cache(maxsize=4)
def _statements(batch: int) -> tuple[Any, Any, Any]:
    return (
        _marking(RUN, _RUNS_DUE, {"enqueued_at": _NOW}, batch),
        _marking(
            INVOCATION, _INVOCATIONS_DUE, {"status": InvocationStatus.QUEUED, "enqueued_at": _NOW}, batch
        ),
        _marking(DELIVERY, _DELIVERIES_DUE, {"status": DeliveryStatus.QUEUED, "enqueued_at": _NOW}, batch),
    )


def _mark(bind: Bind, statement: Any, params: dict[str, datetime]) -> list[int]:
    with write_transaction(bind) as conn:
        return sorted(int(row[0]) for row in conn.execute(statement, params))


def sweep(
    bind: Bind,
    enqueuer: Enqueuer,
    now: datetime,
    *,
    requeue_after_s: float,
    unsent_grace_s: float = constants.SWEEP_UNSENT_GRACE_S,
    batch: int = constants.SWEEP_BATCH,
) -> SweepResult:
    """Mark and send every run, invocation and delivery that is ready but not on the broker."""
    params = {
        "now": now,
        "stale_before": now - timedelta(seconds=requeue_after_s),
        "unsent_before": now - timedelta(seconds=unsent_grace_s),
    }
    mark_runs, mark_invocations, mark_deliveries = _statements(batch)
    result = SweepResult()
    result.runs = send_marked(
        bind,
        enqueuer,
        RUN,
        constants.TASK_FIRE_RUN,
        constants.QUEUE_DEFAULT,
        _mark(bind, mark_runs, params),
    )
    result.invocations = send_marked(
        bind,
        enqueuer,
        INVOCATION,
        constants.TASK_INVOKE,
        constants.QUEUE_INVOKE,
        _mark(bind, mark_invocations, params),
    )
    result.deliveries = send_marked(
        bind,
        enqueuer,
        DELIVERY,
        constants.TASK_DELIVER,
        constants.QUEUE_DELIVER,
        _mark(bind, mark_deliveries, params),
    )
    if result.total:
        logger.info(
            "beat: sent %d run(s), %d invocation(s), %d deliver(ies) due or unsent",
            result.runs,
            result.invocations,
            result.deliveries,
        )
    return result
