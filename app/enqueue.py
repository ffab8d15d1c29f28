"""Send tasks to the broker by name (the app never imports ``worker`` at module level).

A broker error is logged and reported as ``False``: the database already holds the work, and the
beat's sweep sends it later (design.md, "No lost work"). The broker is the one of the *current*
settings, so a process (or a test) that changes settings sends where it should.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from app import constants
from app.settings import get_settings

log = logging.getLogger(__name__)

QUEUES = {
    constants.TASK_FIRE_RUN: constants.QUEUE_DEFAULT,
    constants.TASK_INVOKE: constants.QUEUE_INVOKE,
    constants.TASK_DELIVER: constants.QUEUE_DELIVER,
}
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.5}


def invoke_batches(
    ids: Sequence[int], max_size: int, *, spread: int = constants.INVOKE_BATCH_SPREAD
) -> list[list[int]]:
    """Group invocation ids into the id lists of invoke messages, in order.

    One message carries up to ``max_size`` ids, so a big fan-out pays the per-message costs (broker,
    claim, outcome commit) once per batch; a small send still spreads over up to ``spread`` messages so
    idle worker processes take its invocations in parallel (with ``spread`` 8: 8 ids or fewer go one
    per message, 20 ids as 7 messages of at most 3).
    """
    if not ids:
        return []
    size = max(1, min(max_size, math.ceil(len(ids) / spread)))
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]


def enqueue_many(task_name: str, arg_lists: Sequence[list[Any]]) -> int:
    """Send ``task_name(*args)`` for each args list over one connection; how many the broker took."""
    if not arg_lists:
        return 0
    sent = 0
    try:
        from worker.celery_app import celery_app

        with celery_app.connection_for_write(get_settings().broker_url) as connection:
            for args in arg_lists:
                celery_app.send_task(
                    task_name,
                    args=args,
                    queue=QUEUES.get(task_name, constants.QUEUE_DEFAULT),
                    connection=connection,
                    retry=True,
                    retry_policy=PUBLISH_RETRY_POLICY,
                )
                sent += 1
    except Exception as exc:
        log.warning(
            "could not enqueue %s (%d of %d sent): %s; the sweep will send the rest",
            task_name,
            sent,
            len(arg_lists),
            type(exc).__name__,
        )
    return sent


def enqueue_invocations(ids: Sequence[int]) -> int:
    """Send invoke messages for ``ids`` (grouped as the worker's enqueuer groups them); how many ids went."""
    batches = invoke_batches(ids, get_settings().invoke_batch_size)
    sent = enqueue_many(constants.TASK_INVOKE, [[batch] for batch in batches])
    return sum(len(batch) for batch in batches[:sent])


def enqueue(task_name: str, args: list[Any]) -> bool:
    """Send ``task_name(*args)``; True when the broker took it, False (logged) on a broker error."""
    return enqueue_many(task_name, [args]) == 1
