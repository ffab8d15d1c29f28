"""The Celery tasks: thin wrappers that decode an id and call the pipeline.

Errors inside the pipeline are recorded in the database by the pipeline itself; an exception that
escapes (the database unreachable, say) fails the task, and the row it left (PENDING, QUEUED, or
RUNNING with a lease) is found again by the beat's sweep. No task ever retries with a countdown.
"""

from __future__ import annotations

from typing import Any

from app import constants
from worker.celery_app import celery_app


@celery_app.task(name=constants.TASK_FIRE_RUN, queue=constants.QUEUE_DEFAULT)
def fire_run(run_id: int) -> None:
    """Expand a run's parameter sets into invocations and send them."""
    from worker.pipeline.fanout import fire_run as fan_out

    fan_out(int(run_id))


@celery_app.task(name=constants.TASK_INVOKE, queue=constants.QUEUE_INVOKE)
def invoke(invocation_ids: Any) -> None:
    """Run a batch of invocations (a list of ids, or one id): claim, limits, invoke, store, record."""
    from worker.pipeline.invoke import run_invocations

    ids = invocation_ids if isinstance(invocation_ids, list) else [invocation_ids]
    run_invocations([int(ident) for ident in ids])


@celery_app.task(name=constants.TASK_DELIVER, queue=constants.QUEUE_DELIVER)
def deliver(delivery_id: int) -> None:
    """Deliver one result (or a run's manifest) to one destination."""
    from worker.delivery.pipeline import deliver as deliver_one

    deliver_one(int(delivery_id))
