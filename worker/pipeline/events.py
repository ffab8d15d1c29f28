"""What follows an outcome: metrics, the delivery hooks, and sending the deliveries they plan.

Called after the outcome is committed, so a crash here loses nothing: a Delivery row not yet sent is
found by the beat's sweep.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from app import constants, metrics
from app.models import RunStatus

logger = logging.getLogger(__name__)

Sender = Callable[[str, str, Sequence[int]], None]


_enqueuer: Any = None


def default_sender() -> Sender:
    """Publish with the worker's Celery app over this process's one long-lived producer."""
    global _enqueuer
    if _enqueuer is None:
        from worker.celery_app import celery_app
        from worker.enqueuer import CeleryEnqueuer

        _enqueuer = CeleryEnqueuer(celery_app)
    send: Sender = _enqueuer.send
    return send


def reset() -> None:
    """Forget the producer (after a fork: the parent's broker connection must not be reused)."""
    global _enqueuer
    _enqueuer = None


def _send_deliveries(ids: Sequence[int], send: Sender) -> None:
    from worker.enqueuer import EnqueueError

    if not ids:
        return
    try:
        send(constants.TASK_DELIVER, constants.QUEUE_DELIVER, list(ids))
    except EnqueueError as exc:  # the Delivery rows exist; the beat's sweep sends them
        logger.warning("could not send %d deliveries now: %s", len(ids), exc)


def invocation_succeeded(invocation_id: int, send: Sender) -> None:
    """Plan and send the deliveries of one invocation's result."""
    from worker.delivery.hooks import plan_invocation_deliveries

    try:
        ids = plan_invocation_deliveries(invocation_id)
    except Exception:  # the outcome is committed; a planning fault must not fail the invoke
        logger.exception("could not plan the deliveries of invocation %s", invocation_id)
        return
    _send_deliveries(ids, send)


def run_finished(run_id: int, status: RunStatus, send: Sender) -> None:
    """Count a run's end, then plan and send its run-level deliveries (manifest, run.completed)."""
    from worker.delivery.hooks import plan_run_deliveries

    metrics.RUNS_TOTAL.labels(status=metrics.label(status)).inc()
    logger.info("run %s ended %s", run_id, status.value)
    try:
        ids = plan_run_deliveries(run_id)
    except Exception:  # the run's end is committed; a planning fault must not fail the invoke
        logger.exception("could not plan the deliveries of run %s", run_id)
        return
    _send_deliveries(ids, send)
