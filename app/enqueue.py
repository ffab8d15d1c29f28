"""Send tasks to the broker by name (the app never imports ``worker`` at module level).

A broker error is logged and reported as ``False``: the database already holds the work, and the
beat's sweep sends it later (design.md, "No lost work"). The broker is the one of the *current*
settings, so a process (or a test) that changes settings sends where it should.
"""

from __future__ import annotations

import logging
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


def enqueue(task_name: str, args: list[Any]) -> bool:
    """Send ``task_name(*args)``; True when the broker took it, False (logged) on a broker error."""
    return enqueue_many(task_name, [args]) == 1
